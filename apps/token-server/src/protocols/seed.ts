// The seed's protocol (the azd auth server, `azd app auth server`): `GET /token?scope=<scope>` with
// `Authorization: Bearer <secret>` -> `{ access_token, expires_on, expires_in, token_type, scope }`:
// the azd server's fields (`access_token`, `token_type`, `expires_in`, `scope`) plus `expires_on`.
// Without a scope it serves Azure Resource Manager, as the azd server does. Errors use
// service-kit's JSON shape.
import { BadRequestError } from '@auth-sidecars/service-kit';
import { HEADERS, QUERY, SEED_DEFAULT_SCOPE } from '../constants.js';
import type { Issuer } from '../issuer.js';
import { resourceToScope, scopeProblem } from '../scope.js';
import { bearerSecret, epochSeconds, secondsLeft, singleHeader, type TokenDoor } from './common.js';

export interface SeedResponse {
  access_token: string;
  /** Epoch seconds. */
  expires_on: number;
  /** Seconds from now. */
  expires_in: number;
  token_type: 'Bearer';
  /** The scope the token was issued for (a bare resource asked for comes back as `<resource>/.default`). */
  scope: string;
}

export function seedDoor(issuer: Issuer): TokenDoor {
  return {
    protocol: 'seed',
    async answer({ query, headers, ctx }): Promise<SeedResponse> {
      const client = issuer.authenticate(bearerSecret(singleHeader(headers, HEADERS.authorization)), ctx);
      const asked = query[QUERY.scope];
      const scope = asked === undefined || asked === '' ? SEED_DEFAULT_SCOPE : asked;
      const problem = scopeProblem(scope, QUERY.scope);
      if (problem) issuer.reject(new BadRequestError(problem, 'invalid_scope'), 'bad_request', ctx, client);
      // The server holds an app identity: every token is a resource's `.default`. A bare resource is
      // accepted and both spellings share one provider.
      const served = resourceToScope(scope as string);
      const { token } = await issuer.issue(client, served, ctx);
      return {
        access_token: token.token,
        expires_on: epochSeconds(token.expiresOnTimestamp),
        expires_in: secondsLeft(token.expiresOnTimestamp),
        token_type: 'Bearer',
        scope: served,
      };
    },
  };
}
