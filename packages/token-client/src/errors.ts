// The one error AuthServerCredential throws: carries token-server's HTTP status (0 = no answer).
export class AuthServerError extends Error {
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthServerError';
    this.status = status;
  }
}
