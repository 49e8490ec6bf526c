// The App Service managed-identity protocol (api-version 2019-08-01), as the Azure SDKs'
// ManagedIdentityCredential speaks it when IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
//   GET <IDENTITY_ENDPOINT>?resource=<r>&api-version=2019-08-01[&client_id|object_id|principal_id|mi_res_id=..]
//   X-IDENTITY-HEADER: <IDENTITY_HEADER>
// Success: { access_token, expires_on, expires_in, resource, token_type, client_id } with the
// numbers as strings, as App Service sends them (MSAL .NET/Java read strings; msal-node, Python accept both).
// Errors: { statusCode, message, correlationId }, which MSAL surfaces as the error description.
import { randomUUID } from 'node:crypto';
import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { AppError, BadRequestError, type Logger } from '@auth-sidecars/service-kit';
import { APP_SERVICE_API_VERSION, HEADERS, PATHS, QUERY } from '../constants.js';
import { requestedSelector } from '../identity.js';
import type { Issuer } from '../issuer.js';
import { resourceToScope, scopeProblem, scopeToResource } from '../scope.js';
import { checkQueryLength, contextOf, epochSeconds, secondsLeft, singleHeader } from './common.js';

export interface AppServiceResponse {
  access_token: string;
  expires_on: string;
  expires_in: string;
  resource: string;
  token_type: 'Bearer';
  client_id: string;
}

export interface AppServiceError {
  statusCode: number;
  message: string;
  correlationId: string;
}

export function appServiceRoutes(issuer: Issuer, options: { maxQueryBytes: number; logger: Logger }): Router {
  const handler: RequestHandler = async (req, res) => {
    res.locals.protocol = 'app-service';
    const ctx = contextOf(req, 'app-service');
    checkQueryLength(req, options.maxQueryBytes, issuer, ctx);
    const client = issuer.authenticate(singleHeader(req, HEADERS.identityHeader), ctx);
    const apiVersion = req.query[QUERY.apiVersion];
    if (apiVersion !== APP_SERVICE_API_VERSION) {
      issuer.reject(
        new BadRequestError(`api-version must be ${APP_SERVICE_API_VERSION}`, 'invalid_request'),
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
    const scope = resourceToScope(resource as string);
    const { token, identity } = await issuer.issue(client, scope, ctx, selector);
    const body: AppServiceResponse = {
      access_token: token.token,
      expires_on: String(epochSeconds(token.expiresOnTimestamp)),
      expires_in: String(secondsLeft(token.expiresOnTimestamp)),
      resource: scopeToResource(resource as string),
      token_type: 'Bearer',
      client_id: identity().clientId ?? '',
    };
    res.set('cache-control', 'no-store').json(body);
  };
  const router = Router();
  for (const path of PATHS.appService) router.get(path, handler);
  router.use(appServiceErrorHandler(options.logger));
  return router;
}

/** App Service's error shape; messages of server errors are not exposed. */
export function appServiceErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    // Errors of other protocols pass through to their own handler.
    if (res.locals.protocol !== 'app-service' || res.headersSent) return next(err);
    const status = err instanceof AppError ? err.status : 500;
    const message = err instanceof AppError && err.expose ? err.message : 'internal error';
    if (status >= 500) (req.log ?? logger).error('request failed', { err });
    const body: AppServiceError = { statusCode: status, message, correlationId: req.id ?? randomUUID() };
    if (err instanceof AppError) res.set(err.headers);
    res.status(status).set('cache-control', 'no-store').json(body);
  };
}
