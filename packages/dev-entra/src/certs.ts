// Certificate generation for dev-entra: a CA, a TLS server certificate signed by it, and client
// certificates for app credentials. Keys stay in memory; PEM, private keys as PKCS#8.
import { createHash, X509Certificate, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

const RSA_ALGORITHM = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  /** Internal: the CA signing key and certificate for issuing server certificates. */
  readonly keys: CryptoKeyPair;
  readonly cert: x509.X509Certificate;
}

export interface ServerCertificate {
  certPem: string;
  keyPem: string;
}

export interface ClientCertificate {
  /** The certificate alone (PEM). */
  certPem: string;
  /** The private key alone (PEM, PKCS#8). */
  keyPem: string;
  /** Certificate followed by key, the single-file form @azure/identity accepts. */
  pem: string;
  /** SHA-1 thumbprint, upper-case hex (what the Azure portal shows). */
  thumbprint: string;
  /** SHA-256 thumbprint, upper-case hex. */
  thumbprintSha256: string;
  /** base64url SHA-1 thumbprint, the JWT `x5t` header value. */
  x5t: string;
  /** base64url SHA-256 thumbprint, the JWT `x5t#S256` header value. */
  x5tS256: string;
}

export interface CertificateThumbprints {
  thumbprint: string;
  thumbprintSha256: string;
  x5t: string;
  x5tS256: string;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function certPemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}

function serial(): string {
  // Positive 16-byte serial number.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

/** Thumbprints of a PEM or DER certificate (the first certificate of a PEM bundle). */
export function certificateThumbprints(cert: string | Buffer): CertificateThumbprints {
  const der = typeof cert === 'string' ? new X509Certificate(firstCertificatePem(cert)).raw : cert;
  const sha1 = createHash('sha1').update(der).digest();
  const sha256 = createHash('sha256').update(der).digest();
  return {
    thumbprint: sha1.toString('hex').toUpperCase(),
    thumbprintSha256: sha256.toString('hex').toUpperCase(),
    x5t: sha1.toString('base64url'),
    x5tS256: sha256.toString('base64url'),
  };
}

/** All PEM certificate blocks of a string, in order. */
export function certificatePemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function firstCertificatePem(pem: string): string {
  const first = certificatePemBlocks(pem)[0];
  if (!first) throw new Error('no PEM certificate found');
  return first;
}

/** A self-signed CA certificate (RSA 2048, SHA-256, valid ~10 years). */
export async function createCertificateAuthority(name = 'dev-entra local CA'): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}, O=auth-sidecars dev`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 3650 * DAY_MS),
    keys,
    signingAlgorithm: RSA_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certPemOf(cert), keyPem: await privateKeyPem(keys.privateKey), keys, cert };
}

/** A TLS server certificate signed by `ca`, with DNS and IP subject alternative names. */
export async function createServerCertificate(
  ca: CertificateAuthority,
  {
    dnsNames = ['localhost'],
    ipAddresses = ['127.0.0.1', '::1'],
  }: { dnsNames?: string[]; ipAddresses?: string[] } = {},
): Promise<ServerCertificate> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${dnsNames[0] ?? ipAddresses[0] ?? 'localhost'}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: RSA_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certPemOf(cert), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A self-signed client certificate for an app registration (certificate credential). */
export async function createClientCertificate({
  subject = 'dev-entra client',
  validDays = 365,
}: { subject?: string; validDays?: number } = {}): Promise<ClientCertificate> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${subject}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + validDays * DAY_MS),
    keys,
    signingAlgorithm: RSA_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const certPem = certPemOf(cert);
  const keyPem = await privateKeyPem(keys.privateKey);
  return { certPem, keyPem, pem: `${certPem}${keyPem}`, ...certificateThumbprints(certPem) };
}
