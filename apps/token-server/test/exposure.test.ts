import { exposureWarning, isLoopback } from '../src/exposure.js';

describe('exposure', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect([h, isLoopback(h)]).toEqual([h, true]);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'token-server.default.svc', '128.0.0.1'])
      expect([h, isLoopback(h)]).toEqual([h, false]);
  });
  it('warns only for a non-loopback address without TLS', () => {
    expect(exposureWarning('0.0.0.0', false)).toMatch(/without TLS/);
    expect(exposureWarning('0.0.0.0', true)).toBeUndefined();
    expect(exposureWarning('127.0.0.1', false)).toBeUndefined();
  });
});
