// What tests assert on: the request log (newest kept, never a secret, assertion, code or token) and
// the token endpoint's counters. Handlers add their facts to a request's log details as they go.
import type { NextFunction, Request, Response } from 'express';
import type { DevEntraStats, RequestLogEntry } from './model.js';

/** Per-request details collected for the request log. */
export type LogDetails = Pick<
  RequestLogEntry,
  'grantType' | 'clientId' | 'scope' | 'clientAuth' | 'error' | 'note'
>;

function emptyStats(): DevEntraStats {
  return { tokenRequests: 0, byGrant: {}, byClient: {}, byStatus: {}, tokensIssued: 0, codesIssued: 0 };
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** The log details of the request `res` answers (created on first use). */
export function logDetails(res: Response): LogDetails {
  const locals = res.locals as { devEntra?: LogDetails };
  locals.devEntra ??= {};
  return locals.devEntra;
}

export class RequestLog {
  readonly limit: number;
  readonly #entries: RequestLogEntry[] = [];
  readonly #onRequest: ((entry: RequestLogEntry) => void) | undefined;
  #stats = emptyStats();

  constructor(limit: number, onRequest: ((entry: RequestLogEntry) => void) | undefined) {
    this.limit = limit;
    this.#onRequest = onRequest;
  }

  /** Middleware: one entry per answered request (token requests also counted by status). */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.on('finish', () => {
      const details = logDetails(res);
      const entry: RequestLogEntry = {
        time: new Date().toISOString(),
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...details,
      };
      if (details.grantType !== undefined) bump(this.#stats.byStatus, String(res.statusCode));
      this.#entries.push(entry);
      if (this.#entries.length > this.limit) this.#entries.splice(0, this.#entries.length - this.limit);
      this.#onRequest?.(entry);
    });
    next();
  };

  /** Counts a token request (also one refused by an outage) and notes its grant and client. */
  countTokenRequest(res: Response, grant: string | undefined, client: string | undefined): void {
    const details = logDetails(res);
    details.grantType = grant ?? 'unknown';
    if (client) details.clientId = client;
    this.#stats.tokenRequests += 1;
    bump(this.#stats.byGrant, grant ?? 'unknown');
    bump(this.#stats.byClient, client ?? 'unknown');
  }

  tokenIssued(): void {
    this.#stats.tokensIssued += 1;
  }

  codeIssued(): void {
    this.#stats.codesIssued += 1;
  }

  /** Copy of the log, newest last (`limit`: only the newest so many). */
  entries(limit?: number): RequestLogEntry[] {
    return limit === undefined ? [...this.#entries] : this.#entries.slice(-Math.max(1, limit));
  }

  clear(): void {
    this.#entries.length = 0;
  }

  stats(): DevEntraStats {
    return structuredClone(this.#stats);
  }

  resetStats(): void {
    this.#stats = emptyStats();
  }
}
