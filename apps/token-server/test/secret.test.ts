import { digestSecret, findSecret } from '../src/secret.js';

describe('findSecret', () => {
  const digests = ['first-secret-aaaaaaaa', 'second-secret-bbbbbbb', 'third-secret-ccccccccc'].map(
    digestSecret,
  );
  it('finds the matching entry', () => {
    expect(findSecret('second-secret-bbbbbbb', digests)).toBe(1);
    expect(findSecret('third-secret-ccccccccc', digests)).toBe(2);
  });
  it('returns -1 for near misses, prefixes and different lengths', () => {
    for (const wrong of [
      'second-secret-bbbbbbc',
      'second-secret',
      'second-secret-bbbbbbbb',
      '',
      'x'.repeat(10_000),
    ]) {
      expect(findSecret(wrong, digests)).toBe(-1);
    }
  });
  it('digests are fixed-length whatever the input, so timingSafeEqual never throws', () => {
    expect(digestSecret('a').length).toBe(32);
    expect(digestSecret('a'.repeat(5000)).length).toBe(32);
  });
});
