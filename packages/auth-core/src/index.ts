// auth-core: a credential from config, and a TokenProvider that keeps one token per scope fresh.
export {
  credentialEnvSchema,
  credentialConfigFromEnv,
  credentialConfigIssues,
  assertCredentialConfig,
} from './config.js';
export type { CredentialConfig, CredentialEnv, CredentialKind } from './config.js';
export { createCredential } from './credential.js';
export type { CreateCredentialOptions } from './credential.js';
// The credential classes are not exported: createCredential imports the configured one lazily.
export type { CertificateFiles } from './credentials/certificate-credential.js';
export { isMicrosoftAuthorityHost } from './credentials/authority.js';
export { TokenProvider } from './token-provider.js';
export type { TokenProviderOptions, TokenStatus } from './token-provider.js';
export {
  TOKEN_UNAVAILABLE,
  TokenUnavailableError,
  IdentityProviderUnreachableError,
  IdentityProviderRefusedError,
  TokenAcquireTimeoutError,
  classifyAcquireError,
} from './errors.js';
export type { AcquireFailureKind } from './errors.js';
export { computeRefreshAt } from './refresh-policy.js';
export type { RefreshPolicy } from './refresh-policy.js';
export type { LoggerLike } from './logger.js';
export {
  ClientCertificateEnvVars,
  ClientSecretEnvVars,
  WorkloadIdentityEnvVars,
  ManagedIdentityEnvVars,
  AuthorityEnvVars,
  CredentialKindEnvVars,
  CREDENTIAL_KINDS,
  METRIC_TOKEN_EXPIRY,
  METRIC_TOKEN_REFRESH,
  METRIC_TOKEN_ACQUIRE_DURATION,
} from './constants.js';
