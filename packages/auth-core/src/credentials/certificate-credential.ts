// Client certificate credential that re-reads its PEM file(s) on every acquisition, so a rotated
// Kubernetes Secret (cert-manager, CSI driver) is used at the next refresh without a restart.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { ClientCertificateCredential, CredentialUnavailableError } from '@azure/identity';
import type { ClientCertificateCredentialOptions } from '@azure/identity';
import type { LoggerLike } from '../logger.js';

export interface CertificateFiles {
  /** PEM with the certificate, and the private key unless `keyPath` is given. */
  certificatePath: string;
  keyPath?: string;
  certificatePassword?: string;
}

const credentialName = 'RotatingCertificateCredential';

export class RotatingCertificateCredential implements TokenCredential {
  readonly #tenantId: string;
  readonly #clientId: string;
  readonly #files: CertificateFiles;
  readonly #options: ClientCertificateCredentialOptions;
  readonly #logger: LoggerLike;
  #lastThumbprint: string | undefined;

  constructor(
    tenantId: string,
    clientId: string,
    files: CertificateFiles,
    options: ClientCertificateCredentialOptions,
    logger: LoggerLike,
  ) {
    this.#tenantId = tenantId;
    this.#clientId = clientId;
    this.#files = files;
    this.#options = options;
    this.#logger = logger;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const pem = await this.#readPem();
    this.#noteThumbprint(pem);
    // A new ClientCertificateCredential per acquisition: its MSAL app keeps the first certificate
    // it saw and caches tokens (see per-acquisition.ts).
    const credential = new ClientCertificateCredential(
      this.#tenantId,
      this.#clientId,
      { certificate: pem, certificatePassword: this.#files.certificatePassword },
      this.#options,
    );
    return credential.getToken(scopes, options);
  }

  async #readPem(): Promise<string> {
    const { certificatePath, keyPath } = this.#files;
    const certificate = await readPemFile(certificatePath, 'client certificate');
    if (!/-----BEGIN CERTIFICATE-----/.test(certificate)) {
      throw new CredentialUnavailableError(
        `${credentialName}: ${certificatePath} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`,
      );
    }
    const key = keyPath ? await readPemFile(keyPath, 'client certificate key') : '';
    const pem = keyPath ? `${certificate.trimEnd()}\n${key.trimEnd()}\n` : certificate;
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      throw new CredentialUnavailableError(
        `${credentialName}: no private key in ${keyPath ?? certificatePath}; put the key in the same PEM file or set AZURE_CLIENT_KEY_PATH.`,
      );
    }
    return pem;
  }

  #noteThumbprint(pem: string): void {
    let thumbprint: string | undefined;
    try {
      thumbprint = new X509Certificate(pem).fingerprint256;
    } catch {
      return; // the SDK reports an unparsable certificate with its own error
    }
    if (thumbprint !== this.#lastThumbprint) {
      this.#logger.info(
        this.#lastThumbprint
          ? 'client certificate changed on disk; using the new one'
          : 'client certificate loaded',
        {
          certificatePath: this.#files.certificatePath,
          thumbprintSha256: thumbprint,
        },
      );
      this.#lastThumbprint = thumbprint;
    }
  }
}

async function readPemFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new CredentialUnavailableError(`${credentialName}: cannot read ${what} file ${path} (${code}).`);
  }
}
