// Minimal synchronous RS256 signing with node:crypto (verification goes through jose).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSign,
  generateKeyPair,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a JWK (with kid, use, alg). */
  jwk: Record<string, unknown>;
}

export async function createSigningKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return signingKeyOf(privateKey);
}

/** The signing key of a PKCS#8 PEM private key (a key kept in a state directory). */
export function signingKeyFromPem(pem: string): SigningKey {
  return signingKeyOf(createPrivateKey(pem));
}

/** The private key as PKCS#8 PEM, the form signingKeyFromPem reads back. */
export function signingKeyToPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function signingKeyOf(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  // RFC 7638 thumbprint as kid (deterministic for the key).
  const kid = createHash('sha256')
    .update(JSON.stringify({ e: raw.e, kty: raw.kty, n: raw.n }))
    .digest('base64url');
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { kty: raw.kty, use: 'sig', alg: 'RS256', kid, x5t: kid, n: raw.n, e: raw.e },
  };
}

export function signJwt(
  payload: Record<string, unknown>,
  key: SigningKey,
  header: Record<string, unknown> = {},
): string {
  const fullHeader = { typ: 'JWT', alg: 'RS256', kid: key.kid, ...header };
  const input = `${Buffer.from(JSON.stringify(fullHeader)).toString('base64url')}.${Buffer.from(
    JSON.stringify(payload),
  ).toString('base64url')}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key.privateKey).toString('base64url');
  return `${input}.${signature}`;
}
