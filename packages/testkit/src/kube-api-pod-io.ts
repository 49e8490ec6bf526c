// What kubectl needs of a pod beyond its object, for the Kubernetes API stand-in: `pods/log`
// (`kubectl logs`, `-f` streamed as lines are appended), and `pods/exec` and `pods/portforward` over
// WebSocket with the channel protocol (`v5.channel.k8s.io` and `v4.channel.k8s.io`: one leading byte
// per binary message names the stream). The pods run nothing: exec knows a handful of commands
// (echo, hostname, cat, true, false, whoami), and a forwarded port echoes what it is sent.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import type { KubeUser, RequestAttributes } from './kube-api-types.js';

/** Subprotocols served, preferred first (what the API server offers kubectl 1.30+ and client-node). */
export const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
/** v5: "the client closed this channel" (stdin's end). */
const CLOSE = 255;

const POD_IO = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec|portforward)$/;

export interface PodRef {
  namespace: string;
  name: string;
}

/** What the stand-in lets pod I/O see of itself. */
export interface PodIoHost {
  podExists(ref: PodRef): boolean;
  containerNames(ref: PodRef): string[];
  authenticateHeader(header: string | undefined): Promise<KubeUser | undefined>;
  isAllowed(attrs: RequestAttributes): Promise<boolean>;
  /** Status body as the API server writes it. */
  status(code: number, reason: string, message: string): Record<string, unknown>;
  /** Records an upgrade request in the request log. */
  logUpgrade(entry: { path: string; query: Record<string, string>; user?: string; status: number }): void;
}

/** Log lines per pod and followers waiting for more. */
export class PodLogs {
  private readonly lines = new Map<string, string[]>();
  private readonly followers = new Map<string, Set<(line: string | undefined) => void>>();

  private static key(ref: PodRef): string {
    return `${ref.namespace}/${ref.name}`;
  }

  append(ref: PodRef, line: string): void {
    const key = PodLogs.key(ref);
    const lines = this.lines.get(key) ?? [];
    lines.push(line);
    this.lines.set(key, lines);
    for (const follower of this.followers.get(key) ?? []) follower(line);
  }

  read(ref: PodRef): string[] {
    return [...(this.lines.get(PodLogs.key(ref)) ?? [])];
  }

  /** `line` undefined: the pod is gone, the stream ends. */
  follow(ref: PodRef, listener: (line: string | undefined) => void): () => void {
    const key = PodLogs.key(ref);
    const set = this.followers.get(key) ?? new Set();
    set.add(listener);
    this.followers.set(key, set);
    return () => set.delete(listener);
  }

  /** The pod was deleted: its followers end, its log goes. */
  forget(ref: PodRef): void {
    const key = PodLogs.key(ref);
    for (const follower of this.followers.get(key) ?? []) follower(undefined);
    this.followers.delete(key);
    this.lines.delete(key);
  }
}

function queryOf(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  return query;
}

const truthy = (value: string | null) => value !== null && !['', '0', 'false'].includes(value.toLowerCase());

/** GET pods/<name>/log (an express route after authentication). */
export function podLogRoute(host: PodIoHost, logs: PodLogs) {
  return async (req: Request, res: Response): Promise<void> => {
    const [namespace, name] = [req.params[0]!, req.params[1]!];
    const ref = { namespace, name };
    const user = res.locals.user as KubeUser;
    const attrs: RequestAttributes = {
      user,
      verb: 'get',
      apiGroup: '',
      resource: 'pods',
      subresource: 'log',
      namespace,
      name,
      path: req.path,
    };
    if (!(await host.isAllowed(attrs))) {
      res
        .status(403)
        .json(
          host.status(
            403,
            'Forbidden',
            `pods "${name}" is forbidden: User "${user.username}" cannot get resource "pods/log" in API group "" in the namespace "${namespace}"`,
          ),
        );
      return;
    }
    if (!host.podExists(ref)) {
      res.status(404).json(host.status(404, 'NotFound', `pods "${name}" not found`));
      return;
    }
    const container = typeof req.query.container === 'string' ? req.query.container : undefined;
    if (container !== undefined && !host.containerNames(ref).includes(container)) {
      res
        .status(400)
        .json(host.status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`));
      return;
    }
    const tail = Number(req.query.tailLines);
    const all = logs.read(ref);
    const lines = Number.isInteger(tail) && tail >= 0 ? all.slice(Math.max(0, all.length - tail)) : all;
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    res.write(lines.map((l) => `${l}\n`).join(''));
    if (!truthy(typeof req.query.follow === 'string' ? req.query.follow : null)) {
      res.end();
      return;
    }
    res.flushHeaders();
    const stop = logs.follow(ref, (line) => {
      if (line === undefined) res.end();
      else res.write(`${line}\n`);
    });
    res.on('close', stop);
  };
}

/** Exit status of an exec as the kubelet reports it on the status channel. */
function execStatus(command: string[], code: number): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

const frame = (channel: number, data: Buffer | string) =>
  Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]);

/** The few commands a stand-in pod runs. `cat` echoes stdin until it ends. */
function runExec(ws: WebSocket, url: URL, ref: PodRef, user: KubeUser): void {
  const command = url.searchParams.getAll('command');
  const wantsStdin = truthy(url.searchParams.get('stdin'));
  const out = (data: string | Buffer) => ws.send(frame(STDOUT, data));
  const exit = (code: number) => {
    ws.send(frame(STATUS, JSON.stringify(execStatus(command, code))));
    ws.close(1000);
  };
  const [program, ...args] = command;
  switch (program) {
    case 'echo':
      out(`${args.join(' ')}\n`);
      return exit(0);
    case 'hostname':
      out(`${ref.name}\n`);
      return exit(0);
    case 'whoami':
      // Not the container's user: who the API server let in, so "as the user" shows in a terminal.
      out(`${user.username}\n`);
      return exit(0);
    case 'true':
      return exit(0);
    case 'false':
      return exit(1);
    case 'cat': {
      if (!wantsStdin) return exit(0);
      ws.on('message', (data: Buffer) => {
        if (data.length === 0) return;
        if (data[0] === STDIN) out(data.subarray(1));
        else if (data[0] === CLOSE && data[1] === STDIN) exit(0);
      });
      return;
    }
    default:
      ws.send(frame(STDERR, `${program ?? ''}: command not found\n`));
      return exit(127);
  }
}

/**
 * Port-forward (v4 channel protocol, as @kubernetes/client-node speaks it): for the n-th port, data
 * on channel 2n and errors on 2n+1; each channel first carries its port (2 bytes, little endian).
 * The pod's ports echo back what they receive.
 */
function runPortForward(ws: WebSocket, url: URL): boolean {
  const ports = url.searchParams
    .getAll('ports')
    .flatMap((p) => p.split(','))
    .map(Number);
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return false;
  ports.forEach((port, i) => {
    const bytes = Buffer.alloc(2);
    bytes.writeUInt16LE(port);
    ws.send(frame(2 * i, bytes));
    ws.send(frame(2 * i + 1, bytes));
  });
  ws.on('message', (data: Buffer) => {
    const channel = data[0];
    if (channel === undefined || channel % 2 !== 0 || channel / 2 >= ports.length) return;
    ws.send(frame(channel, data.subarray(1)));
  });
  return true;
}

/**
 * The `upgrade` listener for exec and port-forward: authenticated and authorized as the API server
 * does (`create` on pods/exec or pods/portforward), refused with a Status over plain HTTP otherwise.
 */
export function podUpgradeHandler(host: PodIoHost) {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => CHANNEL_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  const refuse = (socket: Duplex, code: number, reason: string, message: string) => {
    const body = JSON.stringify(host.status(code, reason, message));
    socket.end(
      `HTTP/1.1 ${code} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
  const handle = async (req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const query = queryOf(url);
    const match = POD_IO.exec(url.pathname);
    const user = await host.authenticateHeader(req.headers.authorization);
    const log = (status: number) =>
      host.logUpgrade({ path: url.pathname, query, ...(user ? { user: user.username } : {}), status });
    if (!user) {
      log(401);
      return refuse(socket, 401, 'Unauthorized', 'Unauthorized');
    }
    if (!match || match[3] === 'log') {
      log(404);
      return refuse(socket, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const [namespace, name, subresource] = [
      decodeURIComponent(match[1]!),
      decodeURIComponent(match[2]!),
      match[3]!,
    ];
    const attrs: RequestAttributes = {
      user,
      verb: 'create',
      apiGroup: '',
      resource: 'pods',
      subresource,
      namespace,
      name,
      path: url.pathname,
    };
    if (!(await host.isAllowed(attrs))) {
      log(403);
      return refuse(
        socket,
        403,
        'Forbidden',
        `pods "${name}" is forbidden: User "${user.username}" cannot create resource "pods/${subresource}" in API group "" in the namespace "${namespace}"`,
      );
    }
    if (!host.podExists({ namespace, name })) {
      log(404);
      return refuse(socket, 404, 'NotFound', `pods "${name}" not found`);
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!CHANNEL_PROTOCOLS.some((p) => offered.includes(p))) {
      log(400);
      return refuse(
        socket,
        400,
        'BadRequest',
        `the stand-in speaks ${CHANNEL_PROTOCOLS.join(' and ')} only (offered: ${offered.join(', ') || 'none'})`,
      );
    }
    if (subresource === 'portforward' && url.searchParams.getAll('ports').length === 0) {
      log(400);
      return refuse(socket, 400, 'BadRequest', 'at least one port must be specified');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      log(101);
      ws.on('error', () => undefined);
      if (subresource === 'exec') runExec(ws, url, { namespace, name }, user);
      else if (!runPortForward(ws, url)) ws.close(1008, 'invalid ports');
    });
  };
  return {
    listener: (req: IncomingMessage, socket: Socket, head: Buffer) => {
      handle(req, socket, head).catch(() => socket.destroy());
    },
    close: () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
