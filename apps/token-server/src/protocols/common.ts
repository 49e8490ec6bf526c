// What the protocol doors share: parsing a request (query-length guard, query, context) without
// express, the managed-identity checks (api-version, resource, identity selector), token lifetimes,
// and the route that runs a door on service-kit's fast path.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import querystring, { type ParsedUrlQuery } from 'node:querystring';
import {
  AppError,
  BadRequestError,
  sendJsonText,
  type ErrorResponse,
  type FastRoute,
} from '@auth-sidecars/service-kit';
import { QUERY, type Protocol } from '../constants.js';
import { requestedSelector, type Selector } from '../identity.js';
import type { Issuer, RequestContext } from '../issuer.js';
import type { Client } from '../policy.js';
import { resourceToScope, scopeProblem, scopeToResource } from '../scope.js';

export class QueryTooLongError extends AppError {
  constructor() {
    super(414, 'uri_too_long', 'query string too long');
  }
}

export interface TokenRequest {
  query: ParsedUrlQuery;
  headers: IncomingHttpHeaders;
  ctx: RequestContext;
}

/** One protocol: its success body for a request, and its error shape. */
export interface TokenDoor {
  protocol: Protocol;
  /** The success body; refusals throw AppErrors (audited by the Issuer first). */
  answer(request: TokenRequest): Promise<{ access_token: string }>;
  /** The protocol's error shape (default: service-kit's `{ error: { code, message } }`). */
  errorResponse?(err: unknown, req: IncomingMessage): ErrorResponse;
}

/** The request id baseMiddleware gave the request. */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & { id?: string }).id;
}

/** Parses the query; refuses (414, audited) one longer than `maxQueryBytes` before parsing it. */
export function parseTokenRequest(
  req: IncomingMessage,
  protocol: Protocol,
  issuer: Issuer,
  maxQueryBytes: number,
): TokenRequest {
  const ctx: RequestContext = {
    protocol,
    remoteAddress: req.socket.remoteAddress,
    requestId: requestIdOf(req),
  };
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const raw = q === -1 ? '' : url.slice(q + 1);
  if (raw.length > maxQueryBytes) issuer.reject(new QueryTooLongError(), 'query_too_long', ctx);
  return { query: querystring.parse(raw), headers: req.headers, ctx };
}

/** The fast-path route of a door at one path (the path is the metrics `route` label). */
export function doorRoute(path: string, door: TokenDoor, issuer: Issuer, maxQueryBytes: number): FastRoute {
  const answer = async (req: IncomingMessage) =>
    door.answer(parseTokenRequest(req, door.protocol, issuer, maxQueryBytes));
  const tokenBody = new TokenBodyJson();
  return {
    route: path,
    handle: (req, res, fail) => {
      answer(req).then((body) => sendJsonText(res, 200, tokenBody.json(body)), fail);
    },
    ...(door.errorResponse ? { errorResponse: door.errorResponse } : {}),
  };
}

/**
 * JSON of a token answer, `access_token` first. Escaping the ~1-2 KB token string was the largest
 * part of serializing an answer, and it changes once per refresh: it is serialized once per token.
 */
export class TokenBodyJson {
  private token = '';
  private tokenJson = '""';

  json(body: { access_token: string }): string {
    const { access_token: token, ...rest } = body;
    if (token !== this.token) {
      this.token = token;
      this.tokenJson = JSON.stringify(token);
    }
    const tail = JSON.stringify(rest);
    return tail === '{}'
      ? `{"access_token":${this.tokenJson}}`
      : `{"access_token":${this.tokenJson},${tail.slice(1)}`;
  }
}

export interface ManagedIdentityAsk {
  /** The resource as the protocols echo it (no `/.default`). */
  resource: string;
  scope: string;
  selector: Selector | undefined;
}

/** The checks both managed-identity protocols make: api-version, resource, identity selector. */
export function managedIdentityAsk(
  { query, ctx }: TokenRequest,
  issuer: Issuer,
  client: Client,
  apiVersions: readonly string[],
  apiVersionMessage: string,
): ManagedIdentityAsk {
  const apiVersion = query[QUERY.apiVersion];
  if (typeof apiVersion !== 'string' || !apiVersions.includes(apiVersion))
    issuer.reject(new BadRequestError(apiVersionMessage, 'invalid_request'), 'bad_request', ctx, client);
  const resource = query[QUERY.resource];
  const problem = scopeProblem(resource, QUERY.resource);
  if (problem) issuer.reject(new BadRequestError(problem, 'invalid_resource'), 'bad_request', ctx, client);
  let selector: Selector | undefined;
  try {
    selector = requestedSelector(query);
  } catch (err) {
    issuer.reject(err as AppError, 'bad_request', ctx, client);
  }
  return {
    resource: scopeToResource(resource as string),
    scope: resourceToScope(resource as string),
    selector,
  };
}

/** The value of a header that must appear once (arrays from repeated headers count as absent). */
export function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The secret of an `Authorization: Bearer <secret>` header. */
export function bearerSecret(header: string | undefined): string | undefined {
  return header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}

/** Whole seconds from now until `expiresOnTimestamp` (never negative). */
export function secondsLeft(expiresOnTimestamp: number): number {
  return Math.max(0, Math.floor((expiresOnTimestamp - Date.now()) / 1000));
}

export function epochSeconds(timestampMs: number): number {
  return Math.floor(timestampMs / 1000);
}
