import {
  IdentityProviderRefusedError,
  IdentityProviderUnreachableError,
  TokenAcquireTimeoutError,
  TokenUnavailableError,
  classifyAcquireError,
  describeAcquireError,
  tokenUnavailable,
} from '../src/errors.js';

/** Errors as @azure/identity 4 / msal-node 3 raise them against dev-entra (captured from real runs). */
const SEEN = {
  metadataUnreachable: Object.assign(
    new Error(
      'endpoints_resolution_error: See https://aka.ms/msal.js.errors#endpoints_resolution_error for details',
    ),
    { name: 'CredentialUnavailableError' },
  ),
  serverError: Object.assign(
    new Error(
      'server_error: Error(s): 90033 - Timestamp: 2026-11-30 01:50:22Z - Description: AADSTS90033: A transient error has occurred. Please try again. Trace ID: 90e7 Correlation ID: 2188 Timestamp: 2026-11-30 01:50:22Z',
    ),
    { name: 'AuthenticationRequiredError' },
  ),
  throttled: Object.assign(
    new Error(
      'temporarily_unavailable: Error(s): 50196 - Timestamp: 2026-11-30 01:50:22Z - Description: AADSTS50196: The server terminated an operation because it encountered a client request loop. Please retry later. Trace ID: 94f3',
    ),
    { name: 'AuthenticationRequiredError' },
  ),
  unknownApp: Object.assign(
    new Error(
      "unauthorized_client: Error(s): 700016 - Timestamp: 2026-11-30 01:50:22Z - Description: AADSTS700016: Application with identifier 'nope' was not found in the directory. Trace ID: 1",
    ),
    { name: 'AuthenticationRequiredError' },
  ),
  badSecret: Object.assign(
    new Error(
      'invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided. Trace ID: 1',
    ),
    { name: 'AuthenticationRequiredError' },
  ),
};

describe('classifyAcquireError', () => {
  it('an IdP that cannot be reached, times out or answers 5xx/429 is unreachable', () => {
    expect(classifyAcquireError(SEEN.metadataUnreachable)).toBe('unreachable');
    expect(classifyAcquireError(SEEN.serverError)).toBe('unreachable');
    expect(classifyAcquireError(SEEN.throttled)).toBe('unreachable');
    expect(classifyAcquireError(new TokenAcquireTimeoutError(30_000))).toBe('unreachable');
    expect(classifyAcquireError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(
      'unreachable',
    );
    expect(classifyAcquireError(new Error('read ECONNRESET'))).toBe('unreachable');
    expect(classifyAcquireError(Object.assign(new Error('x'), { statusCode: 502 }))).toBe('unreachable');
  });

  it('an IdP that answers no, or an unusable credential, is refused', () => {
    expect(classifyAcquireError(SEEN.unknownApp)).toBe('refused');
    expect(classifyAcquireError(SEEN.badSecret)).toBe('refused');
    expect(
      classifyAcquireError(
        Object.assign(new Error('RotatingCertificateCredential: /x.pem holds no PEM certificate'), {
          name: 'CredentialUnavailableError',
        }),
      ),
    ).toBe('refused');
    expect(classifyAcquireError(Object.assign(new Error('x'), { statusCode: 401 }))).toBe('refused');
  });

  it('anything else is unknown', () => {
    expect(classifyAcquireError(new Error('the credential returned no token'))).toBe('unknown');
    expect(classifyAcquireError('a string')).toBe('unknown');
  });

  it('tokenUnavailable() picks the typed error; all of them carry the code token_unavailable', () => {
    const unreachable = tokenUnavailable('unreachable', 's', 'r');
    const refused = tokenUnavailable('refused', 's', 'r');
    expect(unreachable).toBeInstanceOf(IdentityProviderUnreachableError);
    expect(refused).toBeInstanceOf(IdentityProviderRefusedError);
    expect(tokenUnavailable('unknown', 's', 'r').constructor).toBe(TokenUnavailableError);
    for (const e of [unreachable, refused]) {
      expect(e).toBeInstanceOf(TokenUnavailableError);
      expect(e).toMatchObject({ code: 'token_unavailable' });
    }
  });
});

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

  it('an unreachable IdP: says so; points at the authority host only if no token was ever had', () => {
    const first = describeAcquireError(SEEN.metadataUnreachable);
    expect(first).toMatch(
      /^the identity provider is unreachable or failing \(its OpenID configuration could not be loaded\)/,
    );
    expect(first).toMatch(/if it never worked, check AZURE_AUTHORITY_HOST/);
    const later = describeAcquireError(SEEN.metadataUnreachable, { succeededBefore: true });
    expect(later).toMatch(/^the identity provider is unreachable or failing/);
    expect(later).not.toMatch(/check|AZURE_/);
    const fiveHundred = describeAcquireError(SEEN.serverError, { succeededBefore: true });
    expect(fiveHundred).toMatch(
      /^the identity provider is unreachable or failing \(server_error: AADSTS90033: A transient error has occurred\./,
    );
    expect(fiveHundred).not.toMatch(/refused|check client id/);
  });

  it('keeps the reason short', () => {
    expect(describeAcquireError(new Error('x'.repeat(5_000))).length).toBeLessThan(500);
  });
});

describe('TokenUnavailableError', () => {
  it('is a plain typed error, free of HTTP, that names the scope and when to ask again', () => {
    const e = new TokenUnavailableError('api://x/.default', 'the IdP is down', {
      retryAt: Date.now() + 2_500,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toHaveProperty('status');
    expect(e).not.toHaveProperty('headers');
    expect(e).toMatchObject({
      code: 'token_unavailable',
      name: 'TokenUnavailableError',
      scope: 'api://x/.default',
    });
    expect(e.message).toBe('no valid access token for scope api://x/.default: the IdP is down');
    expect(e.retryAfterSeconds).toBe(3);
    expect(new TokenUnavailableError('s', 'r').retryAfterSeconds).toBeUndefined();
  });
});

describe('the heart of the token path stays free of HTTP', () => {
  it('no auth-core source imports express or the service shell (only its HTTP-free modules)', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const src = new URL('../src/', import.meta.url);
    const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = await readFile(new URL(file, src), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      expect({
        file,
        http: imports.filter((i) => i === 'express' || i === '@auth-sidecars/service-kit'),
      }).toEqual({
        file,
        http: [],
      });
    }
  });
});
