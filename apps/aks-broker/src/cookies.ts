// Signed session cookie: `<session id>.<HMAC-SHA256>`; several secrets verify (rotation), the first signs.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface CookieOptions {
  name: string;
  secure: boolean;
  maxAgeSeconds?: number;
}

export class CookieSigner {
  constructor(private readonly secrets: readonly string[]) {
    if (secrets.length === 0) throw new RangeError('at least one secret');
  }

  sign(value: string): string {
    return `${value}.${mac(this.secrets[0]!, value)}`;
  }

  /** A MAC of `value` alone (any secret verifies): for tokens that must not reveal what they bind. */
  tag(value: string): string {
    return mac(this.secrets[0]!, value);
  }

  verifyTag(value: string, tag: string): boolean {
    const given = Buffer.from(tag);
    return this.secrets.some((secret) => {
      const expected = Buffer.from(mac(secret, value));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  /** The value when the signature matches any configured secret, else undefined. */
  unsign(signed: string): string | undefined {
    const dot = signed.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const value = signed.slice(0, dot);
    const given = Buffer.from(signed.slice(dot + 1));
    for (const secret of this.secrets) {
      const expected = Buffer.from(mac(secret, value));
      if (expected.length === given.length && timingSafeEqual(expected, given)) return value;
    }
    return undefined;
  }
}

function mac(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value).digest('base64url');
}

/** Reads one cookie from a Cookie header without decoding tricks (our values are base64url). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  return readCookies(header).get(name);
}

/** Every cookie of a Cookie header, first occurrence of a name wins (as browsers list the most specific first). */
export function readCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

export function serializeCookie(value: string, options: CookieOptions): string {
  const attributes = [`${options.name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) attributes.push('Secure');
  if (options.maxAgeSeconds !== undefined)
    attributes.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`);
  return attributes.join('; ');
}

export function clearCookie(options: CookieOptions): string {
  return serializeCookie('', { ...options, maxAgeSeconds: 0 });
}
