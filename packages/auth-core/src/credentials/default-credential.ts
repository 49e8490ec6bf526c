// DefaultAzureCredential: the SDK's chain (environment, workload identity, managed identity, CLI...),
// for deployments that configure nothing explicitly. One instance: the chain remembers which
// credential worked. Its inner credentials read their AZURE_* variables from process.env themselves.
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import type { DefaultAzureCredentialClientIdOptions } from '@azure/identity';
import type { AuthorityOptions } from './authority.js';

export function createDefaultCredential(
  tenantId: string | undefined,
  clientId: string | undefined,
  authority: AuthorityOptions,
): TokenCredential {
  const options: DefaultAzureCredentialClientIdOptions = { ...authority };
  if (tenantId) options.tenantId = tenantId;
  if (clientId) {
    options.managedIdentityClientId = clientId;
    options.workloadIdentityClientId = clientId;
  }
  return new DefaultAzureCredential(options);
}
