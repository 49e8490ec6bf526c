// The keys that make a dev-entra instance recognisable across restarts: the CA (and the TLS
// certificate it signed) that clients trust, and the token and federated-token signing keys whose
// public halves clients cached from the JWKS. Kept in one JSON file in a state directory, so a
// stopped and restarted dev-entra is, to the apps that were talking to it, the same IdP back again.
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSigningKey, signingKeyFromPem, signingKeyToPem, type SigningKey } from './jwt.js';

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface DevEntraState {
  tls: TlsMaterial;
  signing: SigningKey;
  kubernetes: SigningKey;
}

/** Name of the state file inside the state directory. */
export const STATE_FILE = 'dev-entra-state.json';
const STATE_VERSION = 1;

interface StateFile {
  version: number;
  tls: TlsMaterial;
  signingKeyPem: string;
  kubernetesKeyPem: string;
}

/**
 * The state kept in `dir`, or a new one (made with `createTls`) written there first. Private keys
 * are in it: the directory is created 0700 and the file written 0600, atomically (a crash mid-write
 * never leaves a half file that a restart would refuse).
 */
export async function loadOrCreateState(
  dir: string,
  createTls: () => Promise<TlsMaterial>,
): Promise<DevEntraState> {
  const path = join(dir, STATE_FILE);
  const existing = readState(path);
  if (existing) return existing;
  const [tls, signing, kubernetes] = await Promise.all([createTls(), createSigningKey(), createSigningKey()]);
  const file: StateFile = {
    version: STATE_VERSION,
    tls,
    signingKeyPem: signingKeyToPem(signing),
    kubernetesKeyPem: signingKeyToPem(kubernetes),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = join(dir, `.${STATE_FILE}.${randomUUID()}`);
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
  return { tls, signing, kubernetes };
}

function readState(path: string): DevEntraState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`dev-entra: cannot read the state file ${path}: ${(err as Error).message}`);
  }
  try {
    const file = JSON.parse(text) as StateFile;
    if (file.version !== STATE_VERSION) throw new Error(`unknown version ${String(file.version)}`);
    const { caPem, certPem, keyPem } = file.tls;
    if (![caPem, certPem, keyPem].every((v) => typeof v === 'string' && v.includes('-----BEGIN')))
      throw new Error('tls: expected PEM strings caPem, certPem, keyPem');
    return {
      tls: { caPem, certPem, keyPem },
      signing: signingKeyFromPem(file.signingKeyPem),
      kubernetes: signingKeyFromPem(file.kubernetesKeyPem),
    };
  } catch (err) {
    throw new Error(
      `dev-entra: the state file ${path} is not usable (${(err as Error).message}); delete it to start with new keys`,
    );
  }
}
