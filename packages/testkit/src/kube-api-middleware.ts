// Middleware in front of every route of the Kubernetes API stand-in: the request log, injected
// failures and latency (the failNext/setLatency controls), and bearer-token authentication.
import type { NextFunction, Request, Response } from 'express';
import { REASONS, sendStatus } from './kube-api-request.js';
import type { KubeApiOptions, KubeUser, RequestLogEntry } from './kube-api-types.js';

/** Appends an entry per request to `requestLog`; its status is filled as the head goes out. */
export function logRequests(requestLog: RequestLogEntry[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') query[k] = v;
    const entry: RequestLogEntry = {
      time: Date.now(),
      method: req.method,
      path: req.path,
      query,
      // As the API server parses it (Go's Convert_Slice_string_To_bool): only "", "0", "false" are false.
      watch: query.watch !== undefined && !['', '0', 'false'].includes(query.watch.toLowerCase()),
    };
    requestLog.push(entry);
    res.locals.logEntry = entry;
    // Recorded as the head goes out, so a test that has its response already sees it.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
    res.writeHead = ((statusCode: number, ...rest: unknown[]) => {
      entry.status = statusCode;
      return writeHead(statusCode, ...rest);
    }) as Response['writeHead'];
    next();
  };
}

/** The next N requests fail, or every request waits: state the controls set, read per request. */
export class Faults {
  private failures: { count: number; code: number } = { count: 0, code: 500 };
  private latencyMs = 0;

  /** `timers` is shared with the server so close() clears pending delays. */
  constructor(private readonly timers: Set<NodeJS.Timeout>) {}

  failNext(count: number, code: number): void {
    this.failures = { count, code };
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    const failures = this.failures;
    const latencyMs = this.latencyMs;
    const graceTimers = this.timers;
    if (failures.count <= 0) {
      if (latencyMs <= 0) return next();
      const timer = setTimeout(() => {
        graceTimers.delete(timer);
        next();
      }, latencyMs);
      graceTimers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        graceTimers.delete(timer);
      });
      return;
    }
    failures.count--;
    sendStatus(
      res,
      failures.code,
      REASONS[failures.code] ?? 'InternalError',
      `injected failure (${failures.code})`,
    );
  };
}

/** The user a bearer token stands for: a registered token, else the `authenticate` option. */
export function bearerUser(
  tokens: Map<string, KubeUser>,
  authenticate: KubeApiOptions['authenticate'],
): (header: string | undefined) => Promise<KubeUser | undefined> {
  return async (header) => {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    let user = m ? tokens.get(m[1]!) : undefined;
    if (!user && m && authenticate) {
      try {
        user = await authenticate(m[1]!);
      } catch {
        user = undefined;
      }
    }
    return user;
  };
}

/** 401 without a known user; otherwise the user goes to res.locals and the request log. */
export function requireUser(userOf: (header: string | undefined) => Promise<KubeUser | undefined>) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const user = await userOf(req.headers.authorization);
    if (!user) return sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
    res.locals.user = user;
    (res.locals.logEntry as RequestLogEntry).user = user.username;
    next();
  };
}
