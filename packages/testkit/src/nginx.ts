// Starts Debian's nginx (package nginx-light, installed by scripts/ensure-test-deps.mjs) as the
// benchmark reference: one worker, a temporary prefix and config, loopback only, proxying to one
// upstream with the same header injection the sidecars do and streaming without buffering.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './child.js';
import { freePort } from './prometheus.js';

export const NGINX_BINARY = '/usr/sbin/nginx';

export interface StartNginxOptions {
  upstream: string;
  /** Request headers set on the way upstream, e.g. `{ Authorization: 'Bearer x' }`. */
  setHeaders?: Record<string, string>;
  /** Request headers removed on the way upstream, e.g. `['api-key']`. */
  clearHeaders?: string[];
  workerProcesses?: number;
  /**
   * Write nginx's access log (the `combined` format, one line per request, to a file in the
   * prefix): a sidecar that logs every request is compared like for like with this on.
   */
  accessLog?: boolean;
  binary?: string;
}

export interface RunningNginx {
  url: string;
  pid: number | undefined;
  close(): Promise<void>;
}

export async function startNginx(options: StartNginxOptions): Promise<RunningNginx> {
  const prefix = await mkdtemp(join(tmpdir(), 'nginx-'));
  await mkdir(join(prefix, 'logs'));
  await mkdir(join(prefix, 'temp'));
  const port = await freePort();
  const upstream = new URL(options.upstream);
  const headerLines = [
    ...Object.entries(options.setHeaders ?? {}).map(([k, v]) => `      proxy_set_header ${k} "${v}";`),
    ...(options.clearHeaders ?? []).map((k) => `      proxy_set_header ${k} "";`),
  ];
  const runAsRoot = process.getuid?.() === 0;
  const conf = [
    runAsRoot ? 'user root;' : '',
    `worker_processes ${options.workerProcesses ?? 1};`,
    `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${join(prefix, 'logs', 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    options.accessLog ? `  access_log ${join(prefix, 'logs', 'access.log')} combined;` : '  access_log off;',
    `  client_body_temp_path ${join(prefix, 'temp', 'body')};`,
    `  proxy_temp_path ${join(prefix, 'temp', 'proxy')};`,
    `  fastcgi_temp_path ${join(prefix, 'temp', 'fastcgi')};`,
    `  uwsgi_temp_path ${join(prefix, 'temp', 'uwsgi')};`,
    `  scgi_temp_path ${join(prefix, 'temp', 'scgi')};`,
    '  keepalive_requests 1000000;',
    `  upstream backend { server ${upstream.host}; keepalive 64; }`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '      proxy_pass http://backend;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    `      proxy_set_header Host ${upstream.host};`,
    ...headerLines,
    '      proxy_buffering off;',
    '      proxy_request_buffering off;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  const confPath = join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = spawn(
    options.binary ?? NGINX_BINARY,
    ['-p', prefix, '-c', confPath, '-e', join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  for (const s of [child.stdout, child.stderr]) s.on('data', (c: Buffer) => output.push(c.toString('utf8')));
  const exited = once(child, 'exit');
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await stopChild(child, exited, { signal: 'SIGQUIT' });
    await rm(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (gone || Date.now() > deadline) {
      const log = await readFile(join(prefix, 'logs', 'error.log'), 'utf8').catch(() => '');
      await close();
      throw new Error(`nginx did not start:\n${output.join('')}\n${log}`);
    }
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { url, pid: child.pid, close };
}
