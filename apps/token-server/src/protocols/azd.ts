// azd's external authentication protocol, which the azd CLI speaks when AZD_AUTH_ENDPOINT and
// AZD_AUTH_KEY are set (its RemoteCredential): `POST /token?api-version=2023-07-12-preview` with
// `Authorization: Bearer <key>` and `{ "scopes": [scope], "tenantId"?: "..." }`. A token, or the
// reason there is none, comes back with 200: `{ status: "success", token, expiresOn }` (RFC 3339)
// or `{ status: "error", code: "GetTokenError", message }`; azd shows any other status only as
// "unexpected status code", so non-200 answers are kept for requests it could not have meant.
import type { IncomingMessage } from 'node:http';
import { AppError, BadRequestError, sendJson, type FastRoute } from '@auth-sidecars/service-kit';
import { AZD_API_VERSION, HEADERS, QUERY } from '../constants.js';
import { TENANT_SELECTOR, type Selector } from '../identity.js';
import type { Issuer } from '../issuer.js';
import { resourceToScope, scopeProblem } from '../scope.js';
import { bearerSecret, parseTokenRequest, singleHeader } from './common.js';

/** Far more than one scope and a tenant id take; anything larger is not azd. */
export const MAX_AZD_BODY_BYTES = 16 * 1024;

export type AzdResponse =
  | { status: 'success'; token: string; expiresOn: string }
  | { status: 'error'; code: 'GetTokenError'; message: string };

class PayloadTooLargeError extends AppError {
  constructor() {
    super(413, 'payload_too_large', `request body larger than ${MAX_AZD_BODY_BYTES} bytes`);
  }
}

export function azdRoute(path: string, issuer: Issuer, maxQueryBytes: number): FastRoute {
  const answer = async (req: IncomingMessage): Promise<AzdResponse> => {
    const { query, headers, ctx } = parseTokenRequest(req, 'azd', issuer, maxQueryBytes);
    if (query[QUERY.apiVersion] !== AZD_API_VERSION)
      issuer.reject(
        new BadRequestError(`api-version must be ${AZD_API_VERSION}`, 'invalid_request'),
        'bad_request',
        ctx,
      );
    const client = issuer.authenticate(bearerSecret(singleHeader(headers, HEADERS.authorization)), ctx);
    const type = singleHeader(headers, HEADERS.contentType)?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json')
      issuer.reject(
        new BadRequestError('content-type must be application/json', 'invalid_request'),
        'bad_request',
        ctx,
        client,
      );
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      const error =
        err instanceof AppError ? err : new BadRequestError('body is not JSON', 'invalid_request');
      issuer.reject(error, 'bad_request', ctx, client);
    }
    const { scope, tenantId } = parseAsk(body, (problem) =>
      issuer.reject(new BadRequestError(problem, 'invalid_scope'), 'bad_request', ctx, client),
    );
    try {
      // The server holds one identity in one tenant: asked for another tenant, it refuses (as for
      // a managed-identity selector) rather than hand out a token azd did not ask for.
      const selector: Selector | undefined =
        tenantId === undefined ? undefined : { param: TENANT_SELECTOR, value: tenantId };
      const { token } = await issuer.issue(client, resourceToScope(scope), ctx, selector);
      return {
        status: 'success',
        token: token.token,
        expiresOn: new Date(token.expiresOnTimestamp).toISOString(),
      };
    } catch (err) {
      // Refusals (allow-list, tenant, no token) are azd's "failed to acquire token", with our reason.
      if (!(err instanceof AppError)) throw err;
      return {
        status: 'error',
        code: 'GetTokenError',
        message: err.expose ? err.message : 'token unavailable',
      };
    }
  };
  return {
    route: path,
    handle: (req, res, fail) => {
      answer(req).then((body) => sendJson(res, 200, body), fail);
    },
  };
}

/** The one scope and the optional tenant of azd's request body; `refuse` throws. */
function parseAsk(
  body: unknown,
  refuse: (problem: string) => never,
): { scope: string; tenantId: string | undefined } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) refuse('body must be a JSON object');
  const { scopes, tenantId } = body as { scopes?: unknown; tenantId?: unknown };
  if (!Array.isArray(scopes) || scopes.length !== 1) refuse('scopes must be an array of exactly one scope');
  const problem = scopeProblem(scopes[0], 'scopes[0]');
  if (problem) refuse(problem);
  if (tenantId !== undefined && tenantId !== '' && (typeof tenantId !== 'string' || tenantId.length > 256))
    refuse('tenantId must be a tenant id or domain (a string of at most 256 characters)');
  return {
    scope: scopes[0] as string,
    tenantId: tenantId === '' ? undefined : (tenantId as string | undefined),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_AZD_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new PayloadTooLargeError());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
