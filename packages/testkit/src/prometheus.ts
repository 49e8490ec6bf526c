// Starts the real Prometheus server (Debian package `prometheus`, installed by
// scripts/ensure-test-deps.mjs) on a free loopback port with a temporary storage directory and a
// scrape config that scrapes itself (plus any extra targets and rules), and waits until the query
// API returns data.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

export interface StartPrometheusOptions {
  binary?: string;
  scrapeIntervalSeconds?: number;
  /** How long to wait for the first scraped samples. */
  readyTimeoutMs?: number;
  /** Contents of a rule file (recording and alerting rules), evaluated every scrape interval. */
  rules?: string;
  /** Further scrape targets (host:port), scraped as job `extra`. */
  extraTargets?: readonly string[];
  /** `--enable-feature` values, e.g. `exemplar-storage`. */
  features?: readonly string[];
}

export interface RunningPrometheus {
  url: string;
  port: number;
  dataDir: string;
  /** stdout/stderr lines of the server (for failure messages). */
  output: string[];
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  const port = await freePort();
  const interval = options.scrapeIntervalSeconds ?? 1;
  const configPath = join(dir, 'prometheus.yml');
  const rulesPath = join(dir, 'rules.yml');
  if (options.rules !== undefined) await writeFile(rulesPath, options.rules);
  const extra = options.extraTargets ?? [];
  await writeFile(
    configPath,
    [
      'global:',
      `  scrape_interval: ${interval}s`,
      `  evaluation_interval: ${interval}s`,
      ...(options.rules === undefined ? [] : ['rule_files:', `  - ${JSON.stringify(rulesPath)}`]),
      'scrape_configs:',
      '  - job_name: prometheus',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${port}']`,
      ...(extra.length === 0
        ? []
        : [
            '  - job_name: extra',
            '    static_configs:',
            `      - targets: [${extra.map((t) => JSON.stringify(t)).join(', ')}]`,
          ]),
      '',
    ].join('\n'),
  );
  const child = spawn(
    options.binary ?? PROMETHEUS_BINARY,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...(options.features ?? []).map((f) => `--enable-feature=${f}`),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (c: Buffer) => output.push(...c.toString('utf8').split('\n').filter(Boolean)));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  for (;;) {
    if (exitedEarly) {
      await close();
      throw new Error(`prometheus exited before it was ready:\n${output.join('\n')}`);
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`prometheus had no data within the deadline:\n${output.join('\n')}`);
    }
    try {
      const res = await fetch(`${url}/api/v1/query?query=up`);
      if (res.ok) {
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        if ((body.data?.result?.length ?? 0) > 0) break;
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, port, dataDir: dir, output, close };
}
