import { CookieSigner, readCookie, serializeCookie, clearCookie } from '../src/cookies.js';

const secretA = 'a'.repeat(32);
const secretB = 'b'.repeat(32);

describe('CookieSigner', () => {
  it('verifies its own signature and rejects tampering', () => {
    const signer = new CookieSigner([secretA]);
    const signed = signer.sign('session-id');
    expect(signer.unsign(signed)).toBe('session-id');
    expect(signer.unsign(signed.replace('session-id', 'session-ie'))).toBeUndefined();
    expect(signer.unsign('session-id')).toBeUndefined();
    expect(signer.unsign(`${signed}x`)).toBeUndefined();
    expect(new CookieSigner([secretB]).unsign(signed)).toBeUndefined();
  });

  it('keeps old cookies valid during secret rotation', () => {
    const old = new CookieSigner([secretA]).sign('id');
    const rotated = new CookieSigner([secretB, secretA]);
    expect(rotated.unsign(old)).toBe('id');
    expect(rotated.sign('id')).not.toBe(old);
  });
});

describe('cookie header helpers', () => {
  it('reads one cookie by exact name', () => {
    expect(readCookie('a=1; aks-broker=xyz; aks-broker2=no', 'aks-broker')).toBe('xyz');
    expect(readCookie(undefined, 'a')).toBeUndefined();
    expect(readCookie('other=1', 'a')).toBeUndefined();
  });

  it('serializes HttpOnly, SameSite=Lax, and Secure when asked', () => {
    expect(serializeCookie('v', { name: 'n', secure: true, maxAgeSeconds: 60 })).toBe(
      'n=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60',
    );
    expect(serializeCookie('v', { name: 'n', secure: false })).toBe('n=v; Path=/; HttpOnly; SameSite=Lax');
    expect(clearCookie({ name: 'n', secure: false })).toContain('Max-Age=0');
  });
});
