import { CryptoBox, DecryptError } from '../src/crypto-box.js';

describe('CryptoBox', () => {
  const box = CryptoBox.random();

  it('opens what it sealed, with the same associated data', () => {
    const sealed = box.seal('hello', 'key-1');
    expect(sealed).toMatch(/^v1\./);
    expect(box.open(sealed, 'key-1')).toBe('hello');
  });

  it('uses a fresh IV each time', () => {
    expect(box.seal('same', 'k')).not.toBe(box.seal('same', 'k'));
  });

  it('rejects other associated data, a tampered body, another key and garbage', () => {
    const sealed = box.seal('hello', 'key-1');
    expect(() => box.open(sealed, 'key-2')).toThrow(DecryptError);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[2]!, 'base64url');
    body[0] = body[0]! ^ 1;
    parts[2] = body.toString('base64url');
    expect(() => box.open(parts.join('.'), 'key-1')).toThrow(DecryptError);
    expect(() => CryptoBox.random().open(sealed, 'key-1')).toThrow(DecryptError);
    expect(() => box.open('garbage', 'key-1')).toThrow(DecryptError);
  });

  it('accepts a base64 key and refuses a short one', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(new CryptoBox(key).open(new CryptoBox(key).seal('x', 'a'), 'a')).toBe('x');
    expect(() => new CryptoBox(Buffer.alloc(16))).toThrow(RangeError);
  });
});
