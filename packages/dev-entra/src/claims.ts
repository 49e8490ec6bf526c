// What goes into the tokens dev-entra signs: access tokens for apps and users, id tokens, and the
// federated (Kubernetes service account style) tokens of its `_kubernetes` issuer.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify } from 'jose';
import { GRAPH_RESOURCE, OIDC_SCOPES, TOKEN_EXCHANGE_AUDIENCE } from './constants.js';
import type { Endpoints } from './endpoints.js';
import { errors } from './errors.js';
import { signJwt, type SigningKey } from './jwt.js';
import type { AccessTokenClaims, DemoUser } from './model.js';

export interface IssueFederatedTokenOptions {
  subject: string;
  /** Default api://AzureADTokenExchange. */
  audience?: string | string[];
  /** Default 3600. */
  expiresInSeconds?: number;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Splits scopes into the resource (aud) and the permissions. */
export function resourceOf(scopes: string[]): { resource: string; permissions: string[] } {
  const resources = new Map<string, string[]>();
  for (const scope of scopes) {
    if (OIDC_SCOPES.has(scope)) continue;
    const slash = scope.lastIndexOf('/');
    let resource: string;
    let permission: string;
    if (slash > 0) {
      resource = scope.slice(0, slash);
      permission = scope.slice(slash + 1);
    } else {
      resource = GRAPH_RESOURCE;
      permission = scope;
    }
    if (!resources.has(resource)) resources.set(resource, []);
    if (permission) resources.get(resource)?.push(permission);
  }
  if (resources.size > 1) throw errors.multipleResources();
  const [entry] = [...resources.entries()];
  if (!entry) return { resource: GRAPH_RESOURCE, permissions: ['User.Read'] };
  return { resource: entry[0], permissions: entry[1] };
}

export class Claims {
  /** Access token lifetime (a run-time control). */
  lifetimeSeconds: number;
  readonly #endpoints: Endpoints;
  readonly #signingKey: SigningKey;
  readonly #kubernetesKey: SigningKey;

  constructor(
    endpoints: Endpoints,
    keys: { signing: SigningKey; kubernetes: SigningKey },
    lifetimeSeconds: number,
  ) {
    this.#endpoints = endpoints;
    this.#signingKey = keys.signing;
    this.#kubernetesKey = keys.kubernetes;
    this.lifetimeSeconds = lifetimeSeconds;
  }

  /** The access token signing key as a JWK set (what the JWKS endpoint serves). */
  get jwks(): { keys: Record<string, unknown>[] } {
    return { keys: [{ ...this.#signingKey.jwk }] };
  }

  /** The federated token issuer's JWK set. */
  get kubernetesJwks(): { keys: Record<string, unknown>[] } {
    return { keys: [{ ...this.#kubernetesKey.jwk }] };
  }

  get kubernetesPublicKey(): SigningKey['publicKey'] {
    return this.#kubernetesKey.publicKey;
  }

  federatedToken(options: IssueFederatedTokenOptions): string {
    const iat = nowSeconds();
    return signJwt(
      {
        aud: options.audience ?? TOKEN_EXCHANGE_AUDIENCE,
        exp: iat + (options.expiresInSeconds ?? 3600),
        iat,
        nbf: iat,
        iss: this.#endpoints.kubernetesIssuer,
        sub: options.subject,
        jti: randomUUID(),
      },
      this.#kubernetesKey,
    );
  }

  #baseClaims(clientId: string, resource: string, lifetime: number): Record<string, unknown> {
    const iat = nowSeconds();
    return {
      aud: resource,
      iss: this.#endpoints.issuer,
      iat,
      nbf: iat,
      exp: iat + lifetime,
      tid: this.#endpoints.tenantId,
      azp: clientId,
      appid: clientId,
      ver: '2.0',
      uti: randomBytes(16).toString('base64url'),
      rh: `0.${randomBytes(12).toString('base64url')}.`,
    };
  }

  appAccessToken(
    clientId: string,
    servicePrincipalId: string,
    resource: string,
    roles: string[],
    azpacr: string,
    lifetime: number,
    extra?: Record<string, unknown>,
  ): string {
    return signJwt(
      {
        ...this.#baseClaims(clientId, resource, lifetime),
        azpacr,
        appidacr: azpacr,
        idp: this.#endpoints.issuer,
        idtyp: 'app',
        oid: servicePrincipalId,
        sub: servicePrincipalId,
        roles,
        ...extra,
      },
      this.#signingKey,
    );
  }

  userAccessToken(
    user: DemoUser,
    clientId: string,
    resource: string,
    permissions: string[],
    lifetime: number,
    extra?: Record<string, unknown>,
  ): string {
    return signJwt(
      {
        ...this.#baseClaims(clientId, resource, lifetime),
        azpacr: '1',
        idtyp: 'user',
        oid: user.oid,
        sub: pairwiseSub(user, clientId),
        upn: user.upn,
        preferred_username: user.upn,
        unique_name: user.upn,
        name: user.name,
        scp: permissions.map((p) => (p === '.default' ? 'user_impersonation' : p)).join(' '),
        ...(user.groups.length > 0 ? { groups: user.groups } : {}),
        amr: ['pwd'],
        ...extra,
      },
      this.#signingKey,
    );
  }

  idToken(user: DemoUser, clientId: string, nonce: string | undefined, scopes: Set<string>): string {
    const iat = nowSeconds();
    return signJwt(
      {
        aud: clientId,
        iss: this.#endpoints.issuer,
        iat,
        nbf: iat,
        exp: iat + 3600,
        name: user.name,
        oid: user.oid,
        preferred_username: user.upn,
        ...(scopes.has('email') ? { email: user.upn } : {}),
        rh: `0.${randomBytes(12).toString('base64url')}.`,
        sub: pairwiseSub(user, clientId),
        tid: this.#endpoints.tenantId,
        uti: randomBytes(16).toString('base64url'),
        ver: '2.0',
        ...(nonce ? { nonce } : {}),
      },
      this.#signingKey,
    );
  }

  async verifyAccessToken(
    token: string,
    options: { audience?: string | string[]; clockToleranceSeconds?: number } = {},
  ): Promise<AccessTokenClaims> {
    const { payload } = await jwtVerify(token, this.#signingKey.publicKey, {
      algorithms: ['RS256'],
      issuer: this.#endpoints.issuer,
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 0,
    });
    return payload as unknown as AccessTokenClaims;
  }
}

/** A user's `sub`: pairwise per client, as Entra's. */
function pairwiseSub(user: DemoUser, clientId: string): string {
  return createHash('sha256').update(`${user.oid}|${clientId}`).digest('base64url').slice(0, 43);
}
