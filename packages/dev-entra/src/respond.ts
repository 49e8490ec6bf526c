// Failed requests answered as Entra answers them: its JSON error body, `Retry-After` on 429/5xx,
// never cached, the AADSTS code noted in the request log.
import type { Request, Response } from 'express';
import { EntraError, errors } from './errors.js';
import { logDetails } from './request-log.js';

export function sendError(req: Request, res: Response, err: unknown, retryAfterSeconds: number): void {
  let entraError: EntraError;
  if (err instanceof EntraError) entraError = err;
  else if (
    err &&
    typeof err === 'object' &&
    'type' in err &&
    (err as { type: unknown }).type === 'entity.parse.failed'
  ) {
    entraError = new EntraError(400, 'invalid_request', 900144, 'The request body could not be parsed.');
  } else {
    entraError = errors.internal();
    console.error('dev-entra internal error', err);
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  const details = logDetails(res);
  details.error = `${entraError.error} AADSTS${entraError.aadsts}`;
  if (entraError.status === 429 || entraError.status >= 500)
    res.set('Retry-After', String(retryAfterSeconds));
  res.set('Cache-Control', 'no-store');
  const correlationId = req.get('client-request-id') ?? undefined;
  res.status(entraError.status).json(entraError.body(correlationId));
}
