// Optional IMDS emulation (`GET /metadata/identity/oauth2/token`, `Metadata: true`). SDKs reach it
// without privileges through AZURE_POD_IDENTITY_AUTHORITY_HOST (msal-node, Python, .NET honour it).
// IMDS carries no secret, so every such request is attributed to one configured client
// (TOKEN_SERVER_IMDS_CLIENT) whose allow-list applies; anyone who can reach the port can use it.
import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { AppError, AuthError, BadRequestError } from '@auth-sidecars/service-kit';
import { HEADERS, IMDS_API_VERSIONS, PATHS, QUERY } from '../constants.js';
import { requestedSelector } from '../identity.js';
import type { Issuer } from '../issuer.js';
import type { Client } from '../policy.js';
import { resourceToScope, scopeProblem, scopeToResource } from '../scope.js';
import { checkQueryLength, contextOf, epochSeconds, secondsLeft, singleHeader } from './common.js';

export interface ImdsResponse {
  access_token: string;
  client_id: string;
  expires_in: string;
  expires_on: string;
  ext_expires_in: string;
  not_before: string;
  resource: string;
  token_type: 'Bearer';
}

export function imdsRoutes(
  issuer: Issuer,
  options: { maxQueryBytes: number; client: () => Client | undefined },
): Router {
  const handler: RequestHandler = async (req, res) => {
    res.locals.protocol = 'imds';
    const ctx = contextOf(req, 'imds');
    checkQueryLength(req, options.maxQueryBytes, issuer, ctx);
    // Real IMDS refuses proxied requests and requests without the header (SSRF protection).
    if (singleHeader(req, HEADERS.metadata)?.toLowerCase() !== 'true') {
      issuer.reject(
        new BadRequestError('Required metadata header not specified', 'invalid_request'),
        'bad_request',
        ctx,
      );
    }
    if (req.headers[HEADERS.forwardedFor] !== undefined) {
      issuer.reject(
        new BadRequestError('Request contains X-Forwarded-For header', 'invalid_request'),
        'bad_request',
        ctx,
      );
    }
    const client = options.client();
    if (!client)
      issuer.reject(new AuthError('IMDS client not configured', 'unauthorized'), 'unauthenticated', ctx);
    const apiVersion = req.query[QUERY.apiVersion];
    if (typeof apiVersion !== 'string' || !(IMDS_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      issuer.reject(
        new BadRequestError('Missing or invalid api-version', 'invalid_request'),
        'bad_request',
        ctx,
        client,
      );
    }
    const resource = req.query[QUERY.resource];
    const problem = scopeProblem(resource, QUERY.resource);
    if (problem) issuer.reject(new BadRequestError(problem, 'invalid_resource'), 'bad_request', ctx, client);
    let selector;
    try {
      selector = requestedSelector(req.query);
    } catch (err) {
      issuer.reject(err as AppError, 'bad_request', ctx, client);
    }
    const { token, identity } = await issuer.issue(
      client!,
      resourceToScope(resource as string),
      ctx,
      selector,
    );
    const left = String(secondsLeft(token.expiresOnTimestamp));
    const body: ImdsResponse = {
      access_token: token.token,
      client_id: identity().clientId ?? '',
      expires_in: left,
      expires_on: String(epochSeconds(token.expiresOnTimestamp)),
      ext_expires_in: left,
      not_before: String(epochSeconds(Date.now())),
      resource: scopeToResource(resource as string),
      token_type: 'Bearer',
    };
    res.set('cache-control', 'no-store').json(body);
  };
  return Router().get(PATHS.imds, handler).use(imdsErrorHandler());
}

/** IMDS's OAuth-style error shape: `{ error, error_description }`. */
export function imdsErrorHandler(): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    // Errors of other protocols pass through to their own handler.
    if (res.locals.protocol !== 'imds' || res.headersSent) return next(err);
    const status = err instanceof AppError ? err.status : 500;
    const exposed = err instanceof AppError && err.expose;
    res
      .status(status)
      .set('cache-control', 'no-store')
      .json({
        error: exposed ? err.code : 'server_error',
        error_description: exposed ? err.message : 'internal error',
      });
  };
}
