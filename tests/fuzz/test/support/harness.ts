// Runs the fuzz loop against one running app: fast-check generates batches of requests, the sender
// sends each batch concurrently, and after each batch every exchange and every new log line is
// checked and the process must still be alive and answering. A failure names the exact requests.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { requestArb, type Vocabulary } from './arbitraries.js';
import { knownIssuesOf, type AppName } from './known-issues.js';
import {
  JWT_PATTERN,
  findMarkers,
  findPattern,
  findSecret,
  findStackTrace,
  responseText,
  secretNeedles,
} from './oracles.js';
import type { ParsedResponse } from './raw-client.js';
import { Sender, type Exchange } from './sender.js';
import { fuzzSettings } from './settings.js';
import { describe as describeRequest, wellFramed, type RequestSpec, type Values } from './spec.js';

export interface FuzzTarget {
  app: AppName;
  process: LaunchedProcess;
  /** Path that answers 200 while the app is alive (checked after every batch). */
  alivePath: string;
  /** Base URL of `alivePath` where probes have a port of their own (default: the fuzzed URL). */
  aliveBase?: string;
  vocabulary: Vocabulary;
  /** Placeholder values, read before each batch (tokens and cookies change). */
  values(): Values;
  /** Never in a response or a log line: shared secrets, client secrets, keys, cookies. */
  secrets(): string[];
  /** Never in a log line; in a response only where `tokenAllowed` says so. Read after each batch. */
  tokens(): string[];
  /** The response may carry an access token (token-server's answer to a valid secret). */
  tokenAllowed?(exchange: Exchange, response: ParsedResponse): boolean;
  /**
   * The 5xx is the upstream's own answer passed through unchanged, or a 502/503/504 for a request
   * that really was forwarded to the upstream or the IdP. Without it, every 5xx is a violation.
   */
  upstreamFailure?(exchange: Exchange, response: ParsedResponse): boolean;
  /** App-specific properties (identity); one message per violation. */
  check?(exchange: Exchange, response: ParsedResponse): string[];
  /** Runs after each batch has been answered, before the checks (capture tokens, sign users in again). */
  afterBatch?(exchanges: readonly Exchange[]): Promise<void>;
}

export interface FuzzReport {
  app: AppName;
  requests: number;
  seconds: number;
  viaRaw: number;
  viaUndici: number;
  statuses: Record<string, number>;
  closedWithoutResponse: number;
  knownIssueExclusions: Record<string, number>;
  logLines: number;
  seed: number;
}

interface Problem {
  exchange?: Exchange;
  message: string;
}

const SUCCESSFUL_EXIT = 0;

export async function runFuzz(target: FuzzTarget): Promise<FuzzReport> {
  const settings = fuzzSettings();
  const started = performance.now();
  const sender = new Sender(target.process.url, {
    concurrency: settings.concurrency,
    timeoutMs: settings.timeoutMs,
  });
  const known = knownIssuesOf(target.app);
  const exclusions: Record<string, number> = Object.fromEntries(known.map((k) => [k.id, 0]));
  const excluded = (spec: RequestSpec) => {
    const hit = known.find((k) => k.matches(spec));
    if (hit) exclusions[hit.id]! += 1;
    return hit !== undefined;
  };
  const report: FuzzReport = {
    app: target.app,
    requests: 0,
    seconds: 0,
    viaRaw: 0,
    viaUndici: 0,
    statuses: {},
    closedWithoutResponse: 0,
    knownIssueExclusions: exclusions,
    logLines: 0,
    seed: settings.seed,
  };
  let logCursor = 0;
  const origin = new URL(target.process.url);
  const baseValues = { origin: origin.origin, host: origin.host };

  const checkExchange = (ex: Exchange, secrets: string[], tokens: string[]): Problem[] => {
    const problems: Problem[] = [];
    const fail = (message: string) => problems.push({ exchange: ex, message });
    if (ex.outcome.kind === 'timeout') {
      if (wellFramed(ex.request.spec))
        fail(
          `no answer within ${settings.timeoutMs} ms${ex.outcome.detail ? ` (${ex.outcome.detail})` : ''}`,
        );
      return problems;
    }
    if (ex.outcome.kind === 'closed') return problems;
    const response = ex.outcome.response;
    if (response.status >= 500 && !target.upstreamFailure?.(ex, response))
      fail(`answered ${response.status}, not an upstream failure: ${preview(response)}`);
    const text = responseText(response);
    const stack = findStackTrace(text);
    if (stack) fail(`stack trace in the response: ${stack}`);
    for (const marker of findMarkers(text)) fail(`credential marker ${marker} came back in the response`);
    for (const secret of secrets)
      for (const needle of secretNeedles(secret)) {
        const at = findSecret(text, needle);
        if (at) fail(`a secret came back in the response: ${at}`);
      }
    if (!target.tokenAllowed?.(ex, response)) {
      for (const token of tokens)
        for (const needle of secretNeedles(token)) {
          const at = findSecret(text, needle);
          if (at) fail(`an access token came back in the response: ${at}`);
        }
      for (const jwt of findPattern(text, JWT_PATTERN)) fail(`a JWT in the response: ${jwt.slice(0, 40)}...`);
    }
    for (const message of target.check?.(ex, response) ?? []) fail(message);
    return problems;
  };

  const checkLogs = (lines: readonly string[], secrets: string[], tokens: string[]): Problem[] => {
    const problems: Problem[] = [];
    for (const line of lines) {
      const fail = (what: string) =>
        problems.push({ message: `${what} in a log line: ${line.slice(0, 600)}` });
      const stack = findStackTrace(line);
      if (stack) fail(`stack trace ${stack}`);
      for (const marker of findMarkers(line)) fail(`credential marker ${marker}`);
      for (const jwt of findPattern(line, JWT_PATTERN)) fail(`a JWT (${jwt.slice(0, 24)}...)`);
      for (const secret of [...secrets, ...tokens])
        for (const needle of secretNeedles(secret)) if (line.includes(needle)) fail('a secret or token');
    }
    return problems;
  };

  const alive = async (): Promise<string | undefined> => {
    const child = target.process.child;
    if (child.exitCode !== null || child.signalCode !== null)
      return `the process exited (code ${child.exitCode}, signal ${child.signalCode})`;
    try {
      const res = await fetch(new URL(target.alivePath, target.aliveBase ?? target.process.url), {
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      if (res.status !== 200) return `${target.alivePath} answered ${res.status}`;
    } catch (err) {
      return `${target.alivePath} did not answer: ${(err as Error).message}`;
    }
    return undefined;
  };

  const fail = async (problems: Problem[]) => {
    // Re-send the first few offending requests alone: is it the input, or the company it kept?
    const lines: string[] = [];
    for (const p of problems.slice(0, 8)) {
      if (p.exchange === undefined) {
        lines.push(`- ${p.message}`);
        continue;
      }
      const again = await sender.send(
        sender.prepare(p.exchange.request.spec, { ...baseValues, ...target.values() }),
      );
      const again2 = checkExchange(again, target.secrets(), target.tokens());
      lines.push(
        `- ${p.message}\n  request ${describeRequest(p.exchange.request, sender.host)}\n  ${outcomeText(p.exchange)}\n  sent alone again: ${again2.length > 0 ? `fails again (${again2[0]!.message})` : `passes (${outcomeText(again)})`}`,
      );
    }
    if (problems.length > 8) lines.push(`... and ${problems.length - 8} more`);
    return lines.join('\n');
  };

  const batches = Math.ceil(settings.runs / settings.batch);
  const collected: string[] = [];
  let tBatch = performance.now();
  const arbitrary = fc.array(
    requestArb(target.vocabulary).filter((spec) => !excluded(spec)),
    { minLength: settings.batch, maxLength: settings.batch },
  );
  try {
    const details = await fc.check(
      fc.asyncProperty(arbitrary, async (specs) => {
        const t0 = performance.now();
        const values = { ...baseValues, ...target.values() };
        const requests = specs
          .slice(0, settings.runs - report.requests)
          .map((s) => sender.prepare(s, values));
        const exchanges = await sender.sendAll(requests);
        const t1 = performance.now();
        await target.afterBatch?.(exchanges);
        const secrets = target.secrets();
        const tokens = target.tokens();
        const problems: Problem[] = [];
        for (const ex of exchanges) {
          report.requests += 1;
          if (ex.request.via === 'raw') report.viaRaw += 1;
          else report.viaUndici += 1;
          const key = ex.outcome.kind === 'response' ? String(ex.outcome.response.status) : ex.outcome.kind;
          report.statuses[key] = (report.statuses[key] ?? 0) + 1;
          if (ex.outcome.kind === 'closed') report.closedWithoutResponse += 1;
          problems.push(...checkExchange(ex, secrets, tokens));
        }
        const lines = target.process.lines.slice(logCursor);
        logCursor += lines.length;
        problems.push(...checkLogs(lines, secrets, tokens));
        const dead = await alive();
        if (dead) problems.push({ message: dead });
        if (settings.verbose)
          process.stderr.write(
            `batch: gen->send ${Math.round(t0 - tBatch)} ms, send ${Math.round(t1 - t0)} ms, check ${Math.round(performance.now() - t1)} ms\n`,
          );
        if (settings.dump)
          appendFileSync(
            settings.dump,
            exchanges
              .map(
                (ex) =>
                  `${outcomeText(ex).slice(0, 80)}\t${Math.round(ex.ms)}\t${describeRequest(ex.request, sender.host).slice(0, 400)}\n`,
              )
              .join(''),
          );
        if (settings.verbose) {
          const slow = [...exchanges].sort((a, b) => b.ms - a.ms).slice(0, 4);
          for (const ex of slow)
            process.stderr.write(
              `  ${Math.round(ex.ms)} ms ${outcomeText(ex).slice(0, 60)} ${describeRequest(ex.request, sender.host).slice(0, 160)}\n`,
            );
          const total = exchanges.reduce((n, ex) => n + ex.ms, 0);
          process.stderr.write(
            `  sum ${Math.round(total)} ms, raw ${exchanges.filter((e) => e.request.via === 'raw').reduce((n, e) => n + e.ms, 0) | 0} ms\n`,
          );
        }
        tBatch = performance.now();
        if (problems.length === 0) return;
        const text = `${problems.length} violation(s):\n${await fail(problems)}`;
        if (!settings.keepGoing) throw new Error(text);
        collected.push(text);
      }),
      {
        seed: settings.seed,
        numRuns: batches,
        endOnFailure: true,
        ...(settings.path === undefined ? {} : { path: settings.path }),
      },
    );
    // fast-check's own report would print the whole batch (megabytes); the violations name the requests.
    if (details.failed) {
      const reason =
        details.errorInstance instanceof Error
          ? details.errorInstance.message
          : String(details.errorInstance);
      throw new Error(
        `${target.app} broke a property after ${report.requests} requests (replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''}):\n${reason}`,
      );
    }
    if (collected.length > 0)
      throw new Error(
        `${target.app} broke properties in ${collected.length} batch(es):\n${collected.join('\n')}`,
      );
    const dead = await alive();
    if (dead) throw new Error(`after the last batch: ${dead}`);
  } finally {
    await sender.close();
  }
  if (settings.verbose) {
    const stat = readFileSync(`/proc/${target.process.child.pid}/stat`, 'utf8').split(' ');
    const appCpu = (Number(stat[13]) + Number(stat[14])) / 100;
    const own = process.cpuUsage();
    process.stderr.write(
      `cpu: app ${appCpu} s, test process ${Math.round((own.user + own.system) / 1e4) / 100} s\n`,
    );
  }
  // The whole log, once the process has drained and flushed it, against every token seen.
  const code = await target.process.close();
  const rest = checkLogs(target.process.lines.slice(logCursor), target.secrets(), target.tokens());
  if (rest.length > 0) throw new Error(`after shutdown:\n${rest.map((p) => `- ${p.message}`).join('\n')}`);
  if (code !== SUCCESSFUL_EXIT) {
    const closing = target.process.lines.findLastIndex((l) => l.includes('"closing"'));
    const tail = target.process.lines.slice(closing >= 0 ? closing : -10).slice(0, 20);
    throw new Error(
      `the app did not drain and exit 0 on SIGTERM after the fuzz run (exit ${code}); its last lines:\n${tail.map((l) => l.slice(0, 400)).join('\n')}`,
    );
  }
  report.logLines = target.process.lines.length;
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  writeReport(report);
  return report;
}

function preview(response: ParsedResponse): string {
  return JSON.stringify(response.body.toString('latin1').slice(0, 300));
}

function outcomeText(ex: Exchange): string {
  const o = ex.outcome;
  if (o.kind === 'response') return `-> ${o.response.status} ${preview(o.response)}`;
  if (o.kind === 'closed') return `-> connection closed (${o.detail})`;
  return '-> no answer (timeout)';
}

function writeReport(report: FuzzReport): void {
  const dir = join(import.meta.dirname, '..', '..', 'test-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `fuzz-${report.app}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const statuses = Object.entries(report.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}:${n}`)
    .join(' ');
  const kept = Object.entries(report.knownIssueExclusions)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  process.stderr.write(
    `fuzz ${report.app}: ${report.requests} requests (${report.viaUndici} undici, ${report.viaRaw} raw) in ${report.seconds} s, seed ${report.seed}; statuses ${statuses}; ${report.logLines} log lines${kept ? `; known issues kept out: ${kept}` : ''}\n`,
  );
}
