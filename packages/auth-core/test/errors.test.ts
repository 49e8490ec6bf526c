import { ServiceUnavailableError } from '@auth-sidecars/service-kit';
import { TokenUnavailableError, describeAcquireError } from '../src/errors.js';

describe('describeAcquireError', () => {
  it('extracts the AADSTS description from an MSAL server error and says what to check', () => {
    const msal = Object.assign(
      new Error(
        'invalid_client: Error(s): 700027 - Timestamp: 2026-11-25 17:05:23Z - Description: AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.] Trace ID: 0e41 Correlation ID: 944a Timestamp: 2026-11-25 17:05:23Z',
      ),
      { name: 'AuthenticationRequiredError' },
    );
    const reason = describeAcquireError(msal);
    expect(reason).toMatch(/^the identity provider refused the request \(check client id, tenant/);
    expect(reason).toContain(
      'AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]',
    );
    expect(reason).not.toContain('Trace ID');
  });

  it('points at the authority host when its metadata cannot be loaded', () => {
    const e = Object.assign(
      new Error('endpoints_resolution_error: See https://aka.ms/msal.js.errors#endpoints_resolution_error'),
      { name: 'CredentialUnavailableError' },
    );
    expect(describeAcquireError(e)).toMatch(/check AZURE_AUTHORITY_HOST/);
  });

  it('keeps the reason short', () => {
    expect(describeAcquireError(new Error('x'.repeat(5_000))).length).toBeLessThan(500);
  });
});

describe('TokenUnavailableError', () => {
  it('is a 503 ServiceUnavailableError that names the scope and sets retry-after', () => {
    const e = new TokenUnavailableError('api://x/.default', 'the IdP is down', {
      retryAt: Date.now() + 2_500,
    });
    expect(e).toBeInstanceOf(ServiceUnavailableError);
    expect(e).toMatchObject({
      status: 503,
      code: 'token_unavailable',
      expose: true,
      name: 'TokenUnavailableError',
    });
    expect(e.message).toBe('no valid access token for scope api://x/.default: the IdP is down');
    expect(e.headers['retry-after']).toBe('3');
  });
});
