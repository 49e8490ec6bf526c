// Managed identity (IMDS, App Service, Arc, ...): @azure/identity's ManagedIdentityCredential as is.
// One instance for the process: the endpoints cache tokens themselves, so rebuilding buys nothing.
import type { TokenCredential } from '@azure/core-auth';
import { ManagedIdentityCredential } from '@azure/identity';

export function createManagedIdentityCredential(clientId: string | undefined): TokenCredential {
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}
