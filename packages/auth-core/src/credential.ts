// One place that turns a CredentialConfig into an @azure/identity TokenCredential.
import type { TokenCredential } from '@azure/core-auth';
import { assertCredentialConfig } from './config.js';
import type { CredentialConfig } from './config.js';
import { authorityOptions } from './credentials/authority.js';
import { RotatingCertificateCredential } from './credentials/certificateCredential.js';
import { createClientSecretCredential } from './credentials/clientSecretCredential.js';
import { createDefaultCredential } from './credentials/defaultCredential.js';
import { createManagedIdentityCredential } from './credentials/managedIdentityCredential.js';
import { FederatedTokenFileCredential } from './credentials/workloadIdentityCredential.js';
import { componentLogger } from './logger.js';
import type { LoggerLike } from './logger.js';

export interface CreateCredentialOptions {
  logger?: LoggerLike;
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
    case 'workload-identity':
      return new FederatedTokenFileCredential(
        config.tenantId!,
        config.clientId!,
        config.federatedTokenFile!,
        clientOptions,
      );
    case 'client-secret':
      return createClientSecretCredential(
        config.tenantId!,
        config.clientId!,
        config.clientSecret!,
        clientOptions,
      );
    case 'managed-identity':
      return createManagedIdentityCredential(config.clientId);
    case 'default':
      return createDefaultCredential(config.tenantId, config.clientId, authority);
  }
}
