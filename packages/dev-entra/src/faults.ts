// Fault injection for outage and recovery tests: latency and failures of the token endpoint, the
// Retry-After they carry, and whole outages (503s, reset connections, or a closed listener).
import type { NextFunction, Request, Response } from 'express';
import { errors } from './errors.js';
import type { DownMode } from './model.js';
import { str } from './params.js';
import type { RequestLog } from './request-log.js';
import { sendError } from './respond.js';

/** The listener a `refuse` outage closes and brings back on the same port. */
export interface Listener {
  close(): Promise<void>;
  reopen(): Promise<void>;
  /** dev-entra was closed for good: an outage ending then does not reopen it. */
  closedForGood(): boolean;
}

export interface FaultState {
  latencyMs: number;
  failNext: { remaining: number; status: number };
  down: { down: boolean; mode: DownMode };
  retryAfterSeconds: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isTokenPath(path: string): boolean {
  return /^\/[^/]+\/oauth2\/v2\.0\/token\/?$/.test(path);
}

export class Faults {
  retryAfterSeconds: number;
  #latencyMs = 0;
  #failNext = { remaining: 0, status: 503 };
  #down: { down: boolean; mode: DownMode } = { down: false, mode: 'unavailable' };
  #downTimer: NodeJS.Timeout | undefined;
  readonly #listener: Listener;
  readonly #requestLog: RequestLog;

  constructor(options: { retryAfterSeconds: number; listener: Listener; requestLog: RequestLog }) {
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.#listener = options.listener;
    this.#requestLog = options.requestLog;
  }

  get state(): FaultState {
    return {
      latencyMs: this.#latencyMs,
      failNext: { ...this.#failNext },
      down: { ...this.#down },
      retryAfterSeconds: this.retryAfterSeconds,
    };
  }

  setLatency(ms: number): void {
    this.#latencyMs = Math.max(0, ms);
  }

  failNext(count: number, status: number): void {
    this.#failNext = { remaining: Math.max(0, Math.floor(count)), status };
  }

  setRetryAfter(seconds: number): void {
    this.retryAfterSeconds = Math.max(0, Math.floor(seconds));
  }

  /** Before a token request is looked at: the added latency, then an injected failure if one is due. */
  async beforeTokenRequest(): Promise<void> {
    if (this.#latencyMs > 0) await sleep(this.#latencyMs);
    if (this.#failNext.remaining > 0) {
      this.#failNext.remaining -= 1;
      throw errors.unavailable(this.#failNext.status);
    }
  }

  async setDown(down: boolean, mode: DownMode, options: { forMs?: number }): Promise<void> {
    clearTimeout(this.#downTimer);
    this.#downTimer = undefined;
    const wasRefusing = this.#down.down && this.#down.mode === 'refuse';
    this.#down = { down, mode };
    if (down && mode === 'refuse' && !wasRefusing) {
      await this.#listener.close();
    } else if (!(down && mode === 'refuse') && wasRefusing && !this.#listener.closedForGood()) {
      await this.#listener.reopen();
    }
    if (down && options.forMs !== undefined) {
      this.#downTimer = setTimeout(() => {
        this.setDown(false, 'unavailable', {}).catch((err: unknown) =>
          process.emitWarning(`dev-entra: could not come back up: ${(err as Error).message}`),
        );
      }, options.forMs);
      if (mode !== 'refuse') this.#downTimer.unref();
    }
  }

  /** Stops the timer that would end an outage (dev-entra is closing). */
  stop(): void {
    clearTimeout(this.#downTimer);
  }

  /** Middleware: while down, Entra's endpoints fail (the controls and the federated issuer stay up). */
  readonly gate = (req: Request, res: Response, next: NextFunction): void => {
    if (!this.#down.down || req.path.startsWith('/_control') || req.path.startsWith('/_kubernetes')) {
      next();
      return;
    }
    if (this.#down.mode === 'reset' || this.#down.mode === 'refuse') {
      req.socket.destroy();
      return;
    }
    if (isTokenPath(req.path) && req.method === 'POST') {
      // Still a token request: count it.
      const body = (req.body ?? {}) as Record<string, unknown>;
      this.#requestLog.countTokenRequest(res, str(body.grant_type), str(body.client_id));
    }
    sendError(req, res, errors.unavailable(503), this.retryAfterSeconds);
  };
}
