// Typed errors: handlers throw these, one middleware turns them into `{ error: { code, message } }`.
// `expose` follows the oidc-provider habit: messages below 500 go to the client, others do not.

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.expose = status < 500;
    this.headers = options?.headers ?? {};
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

export class AuthError extends AppError {
  constructor(message = 'authentication required', code = 'unauthorized', headers?: Record<string, string>) {
    super(401, code, message, { headers });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'forbidden', code = 'forbidden') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'not found', code = 'not_found') {
    super(404, code, message);
  }
}

export class TooManyRequestsError extends AppError {
  constructor(retryAfterSeconds: number, message = 'too many requests') {
    super(429, 'rate_limited', message, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** The upstream answered badly or could not be reached (502). */
export class UpstreamError extends AppError {
  constructor(message = 'upstream unavailable', options?: { cause?: unknown }) {
    super(502, 'bad_gateway', message, options);
    // The message names the upstream problem without leaking internals; safe to show.
    (this as { expose: boolean }).expose = true;
  }
}

/** The upstream did not answer in time (504). */
export class UpstreamTimeoutError extends AppError {
  constructor(message = 'upstream timed out', options?: { cause?: unknown }) {
    super(504, 'gateway_timeout', message, options);
    (this as { expose: boolean }).expose = true;
  }
}

/** No usable token for the upstream right now (503); `retryAfterSeconds` sets `retry-after`. */
export class ServiceUnavailableError extends AppError {
  constructor(
    message = 'service unavailable',
    code = 'unavailable',
    options?: { cause?: unknown; retryAfterSeconds?: number | undefined },
  ) {
    super(503, code, message, { cause: options?.cause });
    (this as { expose: boolean }).expose = true;
    if (options?.retryAfterSeconds !== undefined)
      this.headers['retry-after'] = String(options.retryAfterSeconds);
  }
}

/** Configuration is invalid; `issues` lists every problem at once. */
export class ConfigError extends Error {
  static readonly EXIT_CODE = 78; // EX_CONFIG from sysexits.h
  readonly issues: string[];

  constructor(issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
