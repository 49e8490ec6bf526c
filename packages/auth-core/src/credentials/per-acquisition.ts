// A TokenCredential that builds a fresh inner credential for every acquisition.
//
// Why: the confidential-client credentials of @azure/identity keep one MSAL application per
// instance, and MSAL (a) caches client-credential tokens, so a forced refresh would get the cached
// token back, and (b) keeps the client certificate it was first given. TokenProvider does the
// caching; building the inner credential per acquisition makes every acquisition a real token
// request made with the files as they are on disk right now.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';

export class PerAcquisitionCredential implements TokenCredential {
  readonly #build: () => Promise<TokenCredential>;

  constructor(build: () => Promise<TokenCredential>) {
    this.#build = build;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const credential = await this.#build();
    return credential.getToken(scopes, options);
  }
}
