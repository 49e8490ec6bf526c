// The seed's protocol: `GET /token?scope=<scope>` with `Authorization: Bearer <secret>` ->
// `{ access_token, expires_on, expires_in, token_type }`. Errors use service-kit's JSON shape.
import { Router, type RequestHandler } from 'express';
import { BadRequestError } from '@auth-sidecars/service-kit';
import { HEADERS, PATHS, QUERY } from '../constants.js';
import type { Issuer } from '../issuer.js';
import { resourceToScope, scopeProblem } from '../scope.js';
import { checkQueryLength, contextOf, epochSeconds, secondsLeft, singleHeader } from './common.js';

export interface SeedResponse {
  access_token: string;
  /** Epoch seconds. */
  expires_on: number;
  /** Seconds from now. */
  expires_in: number;
  token_type: 'Bearer';
}

export function seedRoutes(issuer: Issuer, options: { maxQueryBytes: number }): Router {
  const handler: RequestHandler = async (req, res) => {
    const ctx = contextOf(req, 'seed');
    checkQueryLength(req, options.maxQueryBytes, issuer, ctx);
    const client = issuer.authenticate(bearer(singleHeader(req, HEADERS.authorization)), ctx);
    const scope = req.query[QUERY.scope];
    const problem = scopeProblem(scope, QUERY.scope);
    if (problem) issuer.reject(new BadRequestError(problem, 'invalid_scope'), 'bad_request', ctx, client);
    // The server holds an app identity: every token is a resource's `.default`. A bare resource is
    // accepted and both spellings share one provider.
    const { token } = await issuer.issue(client, resourceToScope(scope as string), ctx);
    const body: SeedResponse = {
      access_token: token.token,
      expires_on: epochSeconds(token.expiresOnTimestamp),
      expires_in: secondsLeft(token.expiresOnTimestamp),
      token_type: 'Bearer',
    };
    res.set('cache-control', 'no-store').json(body);
  };
  return Router().get(PATHS.token, handler);
}

function bearer(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
