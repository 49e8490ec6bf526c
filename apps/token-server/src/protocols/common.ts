// Pieces the protocol routers share: the query-length guard, request context, token lifetimes.
import type { Request } from 'express';
import { AppError } from '@auth-sidecars/service-kit';
import type { Protocol } from '../constants.js';
import type { Issuer, RequestContext } from '../issuer.js';

export class QueryTooLongError extends AppError {
  constructor() {
    super(414, 'uri_too_long', 'query string too long');
  }
}

export function contextOf(req: Request, protocol: Protocol): RequestContext {
  return { protocol, remoteAddress: req.socket.remoteAddress, requestId: req.id };
}

/** Refuses (414, audited) a request whose query is longer than `maxQueryBytes`. */
export function checkQueryLength(
  req: Request,
  maxQueryBytes: number,
  issuer: Issuer,
  ctx: RequestContext,
): void {
  const q = req.originalUrl.indexOf('?');
  if (q !== -1 && req.originalUrl.length - q - 1 > maxQueryBytes)
    issuer.reject(new QueryTooLongError(), 'query_too_long', ctx);
}

/** Whole seconds from now until `expiresOnTimestamp` (never negative). */
export function secondsLeft(expiresOnTimestamp: number): number {
  return Math.max(0, Math.floor((expiresOnTimestamp - Date.now()) / 1000));
}

export function epochSeconds(timestampMs: number): number {
  return Math.floor(timestampMs / 1000);
}

/** The value of a header that must appear once (arrays from repeated headers count as absent). */
export function singleHeader(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}
