// Trusting dev-entra's CA in this process (Node 24 tls.setDefaultCACertificates).
import tls from 'node:tls';

function normalize(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim();
}

/**
 * Adds `caPem` to the default CA certificates of this process, so https, fetch, @azure/identity and
 * msal-node accept dev-entra's TLS certificate. Idempotent. Child processes: set NODE_EXTRA_CA_CERTS
 * to the CA file (DevEntra.caPath) instead.
 */
export function trustDevEntraCa(caPem: string): void {
  const current = tls.getCACertificates('default');
  const wanted = normalize(caPem);
  if (current.some((pem) => normalize(pem) === wanted)) return;
  tls.setDefaultCACertificates([...current, caPem]);
}
