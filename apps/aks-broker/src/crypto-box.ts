// AES-256-GCM sealing for what the broker keeps at rest (MSAL cache partitions, login state): a
// Redis dump alone yields no refresh token. The store key is bound as associated data, so a sealed
// value copied under another key (another user's partition) fails to open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptError extends Error {
  constructor() {
    super('sealed value could not be opened (wrong key, tampered, or moved)');
    this.name = 'DecryptError';
  }
}

export class CryptoBox {
  private readonly key: Buffer;

  /** `key`: 32 raw bytes or their base64. */
  constructor(key: Buffer | string) {
    this.key = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
    if (this.key.length !== 32) throw new RangeError('AES-256-GCM needs a 32-byte key');
  }

  static random(): CryptoBox {
    return new CryptoBox(randomBytes(32));
  }

  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      iv.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  open(sealed: string, associatedData: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== VERSION || iv === undefined || body === undefined || tag === undefined)
      throw new DecryptError();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new DecryptError();
    }
  }
}
