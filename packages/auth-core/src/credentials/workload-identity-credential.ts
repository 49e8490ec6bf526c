// Workload identity (federated token) credential that re-reads AZURE_FEDERATED_TOKEN_FILE on every
// acquisition. @azure/identity's WorkloadIdentityCredential caches the file's content for five
// minutes (readFileContents in workloadIdentityCredential.js, 4.13), so a projected service account
// token rotated by the kubelet could be missed by a forced refresh; this one never is.
import { readFile } from 'node:fs/promises';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { ClientAssertionCredential, CredentialUnavailableError } from '@azure/identity';
import type { ClientAssertionCredentialOptions } from '@azure/identity';

const credentialName = 'FederatedTokenFileCredential';

export class FederatedTokenFileCredential implements TokenCredential {
  readonly #tenantId: string;
  readonly #clientId: string;
  readonly #tokenFilePath: string;
  readonly #options: ClientAssertionCredentialOptions;

  constructor(
    tenantId: string,
    clientId: string,
    tokenFilePath: string,
    options: ClientAssertionCredentialOptions,
  ) {
    this.#tenantId = tenantId;
    this.#clientId = clientId;
    this.#tokenFilePath = tokenFilePath;
    this.#options = options;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const assertion = await this.#readAssertion();
    // Fresh per acquisition so MSAL's token cache cannot answer a forced refresh (per-acquisition.ts).
    const credential = new ClientAssertionCredential(
      this.#tenantId,
      this.#clientId,
      async () => assertion,
      this.#options,
    );
    return credential.getToken(scopes, options);
  }

  async #readAssertion(): Promise<string> {
    let content: string;
    try {
      content = await readFile(this.#tokenFilePath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'read error';
      throw new CredentialUnavailableError(
        `${credentialName}: cannot read federated token file ${this.#tokenFilePath} (${code}); check AZURE_FEDERATED_TOKEN_FILE and the projected service account token volume.`,
      );
    }
    const assertion = content.trim();
    if (!assertion) {
      throw new CredentialUnavailableError(
        `${credentialName}: federated token file ${this.#tokenFilePath} is empty.`,
      );
    }
    return assertion;
  }
}
