// Access token verification against dev-entra's JWKS (for upstream stand-ins and gates).
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AccessTokenClaims } from './model.js';

export interface VerifyAccessTokenOptions {
  /** Expected `aud` (one of). */
  audience: string | string[];
  /** Expected `iss`: `${url}/${tenantId}/v2.0` (DevEntra.issuer). */
  issuer: string;
  /** JWKS URL; default derived from the issuer (`${url}/${tenantId}/discovery/v2.0/keys`). */
  jwksUri?: string;
  clockToleranceSeconds?: number;
}

const remoteSets = new Map<string, JWTVerifyGetKey>();

export function jwksUriForIssuer(issuer: string): string {
  return `${issuer.replace(/\/v2\.0\/?$/, '')}/discovery/v2.0/keys`;
}

/**
 * Verifies an RS256 access token issued by dev-entra: signature (remote JWKS, cached), iss, aud,
 * exp/nbf. Resolves with the claims; rejects (jose error) otherwise.
 */
export async function verifyAccessToken(
  token: string,
  options: VerifyAccessTokenOptions,
): Promise<AccessTokenClaims> {
  const uri = options.jwksUri ?? jwksUriForIssuer(options.issuer);
  let keys = remoteSets.get(uri);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(uri));
    remoteSets.set(uri, keys);
  }
  const { payload } = await jwtVerify(token, keys, {
    algorithms: ['RS256'],
    audience: options.audience,
    issuer: options.issuer,
    clockTolerance: options.clockToleranceSeconds ?? 0,
  });
  return payload as unknown as AccessTokenClaims;
}
