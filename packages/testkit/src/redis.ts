// Starts a real Redis (Debian's redis-server) on a free loopback port with a throw-away directory,
// for tests of anything that shares state through Redis (aks-broker sessions, rate limits).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const REDIS_SERVER_BIN = '/usr/bin/redis-server';

export interface RunningRedis {
  /** redis://:password@127.0.0.1:PORT/0 */
  url: string;
  host: string;
  port: number;
  password: string;
  dir: string;
  child: ChildProcess;
  /** Everything redis-server printed (for diagnostics). */
  output: string[];
  close(): Promise<void>;
}

export interface RedisOptions {
  /** Path of the redis-server binary (default: Debian's). */
  bin?: string;
  /** Require this password (default: a random one, so tests exercise AUTH like production). */
  password?: string;
  startTimeoutMs?: number;
}

/** Starts redis-server on 127.0.0.1; retries on a port race (redis cannot bind port 0 itself). */
export async function startRedis(options: RedisOptions = {}): Promise<RunningRedis> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(await freePort(), options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function startOnce(port: number, options: RedisOptions): Promise<RunningRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'testkit-redis-'));
  const password = options.password ?? randomBytes(12).toString('hex');
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--requirepass',
    password,
    '--logfile',
    '',
    '--loglevel',
    'notice',
  ];
  const child = spawn(options.bin ?? REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = once(child, 'exit');
  let ready!: () => void;
  const readySeen = new Promise<void>((resolve) => (ready = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      output.push(chunk);
      if (chunk.includes('Ready to accept connections')) ready();
    });
  }
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      readySeen,
      exited.then(([code]) => {
        throw new Error(`redis-server exited with ${String(code)} before ready:\n${output.join('')}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`redis-server not ready in ${timeoutMs} ms:\n${output.join('')}`)),
          timeoutMs,
        );
      }),
    ]);
    await ping(port, password);
  } catch (error) {
    await close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    url: `redis://:${password}@127.0.0.1:${port}/0`,
    host: '127.0.0.1',
    port,
    password,
    dir,
    child,
    output,
    close,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Speaks just enough RESP to check that the server answers with our password. */
async function ping(port: number, password: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const cmd = (parts: string[]) =>
    `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
  socket.write(cmd(['AUTH', password]) + cmd(['PING']));
  let data = '';
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no PONG from redis: ${data}`)), 5_000);
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('+PONG')) {
        clearTimeout(timer);
        resolve();
      } else if (data.includes('-')) {
        clearTimeout(timer);
        reject(new Error(`redis answered: ${data.trim()}`));
      }
    });
    socket.on('error', reject);
  });
  socket.destroy();
}
