// Authority options shared by every credential builder: AZURE_AUTHORITY_HOST and instance discovery.
import type { CredentialConfig } from '../config.js';
import { MICROSOFT_AUTHORITY_HOSTS } from '../constants.js';

export interface AuthorityOptions {
  authorityHost?: string;
  disableInstanceDiscovery?: boolean;
}

/**
 * Instance discovery asks login.microsoftonline.com about the authority, which fails (or leaks a
 * request to the internet) for any host outside Microsoft's clouds, such as dev-entra.
 */
export function authorityOptions(config: CredentialConfig): AuthorityOptions {
  if (!config.authorityHost) {
    return config.disableInstanceDiscovery === undefined
      ? {}
      : { disableInstanceDiscovery: config.disableInstanceDiscovery };
  }
  const authorityHost = config.authorityHost.replace(/\/+$/, '');
  return {
    authorityHost,
    disableInstanceDiscovery: config.disableInstanceDiscovery ?? !isMicrosoftAuthorityHost(authorityHost),
  };
}

export function isMicrosoftAuthorityHost(authorityHost: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(authorityHost).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (MICROSOFT_AUTHORITY_HOSTS as readonly string[]).includes(hostname);
}
