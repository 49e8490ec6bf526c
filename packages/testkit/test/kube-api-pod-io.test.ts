// Pod logs, exec and port-forward of the Kubernetes API stand-in, driven by @kubernetes/client-node's
// Log, Exec and PortForward (the WebSocket channel protocol), with RBAC and refusals as the API
// server answers them. (The real kubectl drives them through aks-broker in its e2e tests.)
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { PassThrough, Writable } from 'node:stream';
import { Exec, KubeConfig, Log, PortForward, type V1Status } from '@kubernetes/client-node';
import { startKubeApi, type KubeApi } from '../src/kube-api.js';

let api: KubeApi;

beforeEach(async () => {
  api = await startKubeApi({
    // "viewer" may only read logs; everyone else (the admin) may do anything.
    authorize: (a) => a.user.username !== 'viewer' || (a.verb === 'get' && a.subresource === 'log'),
  });
  api.addPod({ name: 'api-0', namespace: 'default' });
});
afterEach(async () => {
  await api.close();
});

const config = (user?: string) => {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig(user));
  return kc;
};

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('pods/log', () => {
  it('returns the lines so far, and follows new ones until the pod is deleted', async () => {
    api.appendLog('api-0', 'one');
    api.appendLog('api-0', 'two');
    const all = sink();
    await new Promise<void>((resolve, reject) => {
      void new Log(config())
        .log('default', 'api-0', 'main', all.stream, { tailLines: 1 })
        .then((req) => req.signal.addEventListener('abort', () => resolve()))
        .catch(reject);
      all.stream.on('finish', () => resolve());
    });
    expect(all.text()).toBe('two\n');

    const followed = sink();
    const ended = new Promise<void>((resolve) => followed.stream.on('finish', () => resolve()));
    await new Log(config('viewer')).log('default', 'api-0', 'main', followed.stream, { follow: true });
    await until(() => followed.text() === 'one\ntwo\n', 'the existing lines');
    api.appendLog('api-0', 'three');
    await until(() => followed.text().endsWith('three\n'), 'a new line');
    api.deletePod('api-0');
    await ended;
  });

  it('is refused without RBAC, and for an unknown container', async () => {
    const log = sink();
    await expect(new Log(config()).log('default', 'api-0', 'nope', log.stream, {})).rejects.toThrow(
      /HTTP-Code: 400/,
    );
    api.setAuthorizer((a) => a.subresource !== 'log');
    await expect(new Log(config()).log('default', 'api-0', 'main', log.stream, {})).rejects.toThrow(
      /HTTP-Code: 403/,
    );
  });
});

describe('pods/exec over WebSocket', () => {
  it('runs echo, whoami and cat (stdin), and reports exit codes on the status channel', async () => {
    const run = async (command: string[], input?: string) => {
      const out = sink();
      const err = sink();
      const stdin = input === undefined ? null : new PassThrough();
      let status: V1Status | undefined;
      const done = new Promise<void>((resolve) => {
        void new Exec(config()).exec(
          'default',
          'api-0',
          'main',
          command,
          out.stream,
          err.stream,
          stdin,
          false,
          (s) => {
            status = s;
            resolve();
          },
        );
      });
      if (stdin) stdin.end(input);
      await done;
      return { out: out.text(), err: err.text(), status };
    };
    expect(await run(['echo', 'hello', 'pod'])).toMatchObject({
      out: 'hello pod\n',
      status: { status: 'Success' },
    });
    expect((await run(['whoami'])).out).toBe('kubernetes-admin\n');
    expect((await run(['cat'], 'piped in')).out).toBe('piped in');
    const failed = await run(['false']);
    expect(failed.status).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '1' }] },
    });
    const missing = await run(['ls']);
    expect(missing.err).toBe('ls: command not found\n');
    const log = api.requestLog.filter((e) => e.path.endsWith('/exec'));
    expect(log.map((e) => [e.user, e.verb, e.status])).toContainEqual(['kubernetes-admin', 'create', 101]);
  });

  it('refuses the handshake without RBAC (403), for a missing pod (404) or another protocol (400)', async () => {
    const handshake = (user: string | undefined, pod: string, protocol = 'v5.channel.k8s.io') =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          `${api.url}/api/v1/namespaces/default/pods/${pod}/exec?command=whoami&stdout=1`,
          {
            ca: api.caPem,
            headers: {
              authorization: `Bearer ${user ? api.token(user) : api.adminToken}`,
              connection: 'Upgrade',
              upgrade: 'websocket',
              'sec-websocket-version': '13',
              'sec-websocket-key': randomBytes(16).toString('base64'),
              'sec-websocket-protocol': protocol,
            },
          },
        );
        req.once('upgrade', (res, socket) => {
          socket.destroy();
          resolve({ status: res.statusCode ?? 0, body: '' });
        });
        req.once('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.once('error', reject);
        req.end();
      });
    const forbidden = await handshake('viewer', 'api-0');
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body)).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      message:
        'pods "api-0" is forbidden: User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "default"',
    });
    expect((await handshake(undefined, 'gone-0')).status).toBe(404);
    expect((await handshake(undefined, 'api-0', 'SPDY/3.1+portforward.k8s.io')).status).toBe(400);
    expect((await handshake(undefined, 'api-0')).status).toBe(101);
    expect(api.requestLog.filter((e) => e.path.endsWith('/exec')).map((e) => e.status)).toEqual([
      403, 404, 400, 101,
    ]);
  });
});

describe('pods/portforward over WebSocket', () => {
  it('echoes what is sent to a forwarded port', async () => {
    const out = sink();
    const input = new PassThrough();
    const ws = (await new PortForward(config()).portForward(
      'default',
      'api-0',
      [5432],
      out.stream,
      null,
      input,
    )) as {
      close(): void;
    };
    input.write('SELECT 1');
    await until(() => out.text() === 'SELECT 1', 'the echo');
    ws.close();
  });
});
