// Public data types of dev-entra.

export interface DemoUser {
  /** Object id (stable across runs). */
  oid: string;
  /** User principal name, also preferred_username. */
  upn: string;
  /** Display name. */
  name: string;
  /** Group object ids (emitted as the `groups` claim). */
  groups: string[];
}

export interface RegisterAppOptions {
  /** Defaults to a random GUID. */
  clientId?: string;
  /** Client secret (client_secret credential). */
  clientSecret?: string;
  /** PEM certificate(s) accepted for client assertions (a bundle registers each certificate; a key in it is ignored). */
  certificatePem?: string | string[];
  /** Subject(s) of federated tokens (issueFederatedToken) accepted as client assertions, e.g. `system:serviceaccount:ns:sa`. */
  federatedSubject?: string | string[];
  /** Audience required in federated tokens. Default `api://AzureADTokenExchange`. */
  federatedAudience?: string;
  /** Redirect URIs for the authorization code flow (exact match; loopback http URIs match on any port). */
  redirectUris?: string[];
  /** Display name. */
  name?: string;
  /** App roles put in app-only tokens (`roles` claim). Default `[]`. */
  roles?: string[];
  /**
   * A public client may redeem codes and refresh tokens without client authentication. Default false;
   * a confidential app registered without any credential gets a generated clientSecret.
   */
  publicClient?: boolean;
}

export interface RegisteredApp {
  clientId: string;
  name: string;
  /** Object id of the app's service principal (`oid`/`sub` of app-only tokens). */
  servicePrincipalId: string;
  clientSecret?: string;
  /** SHA-1 thumbprints (upper-case hex) of the registered certificates. */
  thumbprints: string[];
  federatedSubjects: string[];
  federatedAudience: string;
  redirectUris: string[];
  roles: string[];
  publicClient: boolean;
}

export interface DevEntraStats {
  /** POSTs to the token endpoint (every one, including refused and failed ones). */
  tokenRequests: number;
  /** Token requests by grant_type. */
  byGrant: Record<string, number>;
  /** Token requests by client_id. */
  byClient: Record<string, number>;
  /** Token requests by HTTP status of the answer. */
  byStatus: Record<string, number>;
  /** Access tokens issued. */
  tokensIssued: number;
  /** Sign-ins completed on the authorize page (codes issued). */
  codesIssued: number;
}

export interface RequestLogEntry {
  time: string;
  method: string;
  /** Path without query string. */
  path: string;
  status: number;
  durationMs: number;
  grantType?: string;
  clientId?: string;
  scope?: string;
  /** How the client authenticated: secret, certificate, federated, none. */
  clientAuth?: string;
  /** Entra error and AADSTS code when the request failed. */
  error?: string;
  /** First characters of a code/refresh token, never the whole value. */
  note?: string;
}

export type DownMode = 'unavailable' | 'refuse' | 'reset';

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  tid: string;
  oid: string;
  sub: string;
  azp: string;
  appid: string;
  ver: string;
  idtyp: 'app' | 'user';
  roles?: string[];
  scp?: string;
  upn?: string;
  preferred_username?: string;
  name?: string;
  groups?: string[];
  [claim: string]: unknown;
}
