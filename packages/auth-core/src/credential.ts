// One place that turns a CredentialConfig into an @azure/identity TokenCredential.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { assertCredentialConfig } from './config.js';
import type { CredentialConfig } from './config.js';
import { authorityOptions } from './credentials/authority.js';
import { componentLogger } from './logger.js';
import type { LoggerLike } from './logger.js';

export interface CreateCredentialOptions {
  logger?: LoggerLike;
}

/**
 * A credential whose class is imported at its first acquisition, so a process loads the one kind
 * it is configured for: DefaultAzureCredential's chain (CLI, PowerShell, developer tools, managed
 * identity, ...) is most of @azure/identity's weight, and a sidecar pays for loaded code in every
 * pod. In the bundled image each kind is a chunk of its own.
 */
class LazyCredential implements TokenCredential {
  #credential: Promise<TokenCredential> | undefined;

  constructor(private readonly load: () => Promise<TokenCredential>) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    this.#credential ??= this.load();
    return (await this.#credential).getToken(scopes, options);
  }
}

/**
 * Builds the credential for `config`. Throws ConfigError (exit 78 under runMain) when a variable
 * the kind needs is missing. Certificate and federated token files are read at every acquisition.
 */
export function createCredential(
  config: CredentialConfig,
  { logger }: CreateCredentialOptions = {},
): TokenCredential {
  assertCredentialConfig(config);
  const log = componentLogger(logger, 'credential');
  const authority = authorityOptions(config);
  // TokenProvider is the retry layer (backoff with jitter, visible in status and metrics); SDK
  // retries underneath would stretch one attempt to many seconds and hide the failures.
  const clientOptions = { ...authority, retryOptions: { maxRetries: 0 } };
  // Identifiers and paths only; never secrets.
  log.info('credential configured', {
    kind: config.kind,
    tenantId: config.tenantId,
    clientId: config.clientId,
    authorityHost: authority.authorityHost,
    disableInstanceDiscovery: authority.disableInstanceDiscovery,
    certificatePath: config.certificatePath,
    keyPath: config.keyPath,
    federatedTokenFile: config.federatedTokenFile,
  });
  // assertCredentialConfig guarantees the fields each branch needs; the `!` below rely on it.
  switch (config.kind) {
    case 'certificate':
      return new LazyCredential(async () => {
        const { RotatingCertificateCredential } = await import('./credentials/certificate-credential.js');
        return new RotatingCertificateCredential(
          config.tenantId!,
          config.clientId!,
          {
            certificatePath: config.certificatePath!,
            keyPath: config.keyPath,
            certificatePassword: config.certificatePassword,
          },
          { ...clientOptions, sendCertificateChain: config.sendCertificateChain },
          log,
        );
      });
    case 'workload-identity':
      return new LazyCredential(async () => {
        const { FederatedTokenFileCredential } =
          await import('./credentials/workload-identity-credential.js');
        return new FederatedTokenFileCredential(
          config.tenantId!,
          config.clientId!,
          config.federatedTokenFile!,
          clientOptions,
        );
      });
    case 'client-secret':
      return new LazyCredential(async () => {
        const { createClientSecretCredential } = await import('./credentials/client-secret-credential.js');
        return createClientSecretCredential(
          config.tenantId!,
          config.clientId!,
          config.clientSecret!,
          clientOptions,
        );
      });
    case 'managed-identity':
      return new LazyCredential(async () => {
        const { createManagedIdentityCredential } =
          await import('./credentials/managed-identity-credential.js');
        return createManagedIdentityCredential(config.clientId);
      });
    case 'default':
      return new LazyCredential(async () => {
        const { createDefaultCredential } = await import('./credentials/default-credential.js');
        return createDefaultCredential(config.tenantId, config.clientId, authority);
      });
  }
}
