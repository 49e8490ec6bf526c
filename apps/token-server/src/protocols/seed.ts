// The seed's protocol: `GET /token?scope=<scope>` with `Authorization: Bearer <secret>` ->
// `{ access_token, expires_on, expires_in, token_type }`. Errors use service-kit's JSON shape.
import { BadRequestError } from '@auth-sidecars/service-kit';
import { HEADERS, QUERY } from '../constants.js';
import type { Issuer } from '../issuer.js';
import { resourceToScope, scopeProblem } from '../scope.js';
import { epochSeconds, secondsLeft, singleHeader, type TokenDoor } from './common.js';

export interface SeedResponse {
  access_token: string;
  /** Epoch seconds. */
  expires_on: number;
  /** Seconds from now. */
  expires_in: number;
  token_type: 'Bearer';
}

export function seedDoor(issuer: Issuer): TokenDoor {
  return {
    protocol: 'seed',
    async answer({ query, headers, ctx }): Promise<SeedResponse> {
      const client = issuer.authenticate(bearer(singleHeader(headers, HEADERS.authorization)), ctx);
      const scope = query[QUERY.scope];
      const problem = scopeProblem(scope, QUERY.scope);
      if (problem) issuer.reject(new BadRequestError(problem, 'invalid_scope'), 'bad_request', ctx, client);
      // The server holds an app identity: every token is a resource's `.default`. A bare resource is
      // accepted and both spellings share one provider.
      const { token } = await issuer.issue(client, resourceToScope(scope as string), ctx);
      return {
        access_token: token.token,
        expires_on: epochSeconds(token.expiresOnTimestamp),
        expires_in: secondsLeft(token.expiresOnTimestamp),
        token_type: 'Bearer',
      };
    },
  };
}

function bearer(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
