// Client secret credential: @azure/identity's ClientSecretCredential, built per acquisition so a
// forced refresh really asks the identity provider (see per-acquisition.ts).
import type { TokenCredential } from '@azure/core-auth';
import { ClientSecretCredential } from '@azure/identity';
import type { ClientSecretCredentialOptions } from '@azure/identity';
import { PerAcquisitionCredential } from './per-acquisition.js';

export function createClientSecretCredential(
  tenantId: string,
  clientId: string,
  clientSecret: string,
  options: ClientSecretCredentialOptions,
): TokenCredential {
  return new PerAcquisitionCredential(
    async () => new ClientSecretCredential(tenantId, clientId, clientSecret, options),
  );
}
