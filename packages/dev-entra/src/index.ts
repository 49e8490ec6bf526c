export { DevEntra, startDevEntra, type DevEntraOptions, type IssueAccessTokenOptions } from './server.js';
export {
  DEFAULT_TENANT_ID,
  DEMO_USERS,
  DEMO_GROUPS,
  GRAPH_RESOURCE,
  TOKEN_EXCHANGE_AUDIENCE,
} from './constants.js';
export type { IssueFederatedTokenOptions } from './claims.js';
export {
  createCertificateAuthority,
  createServerCertificate,
  createClientCertificate,
  certificateThumbprints,
  certificatePemBlocks,
  type CertificateAuthority,
  type ServerCertificate,
  type ClientCertificate,
  type CertificateThumbprints,
} from './certs.js';
export { trustDevEntraCa } from './trust.js';
export { verifyAccessToken, jwksUriForIssuer, type VerifyAccessTokenOptions } from './verify.js';
export { EntraError, type EntraErrorBody } from './errors.js';
export type {
  AccessTokenClaims,
  DemoUser,
  DevEntraStats,
  DownMode,
  RegisterAppOptions,
  RegisteredApp,
  RequestLogEntry,
} from './model.js';
