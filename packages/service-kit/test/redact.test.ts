import { UpstreamError } from '../src/errors.js';
import { REDACTED, isSensitiveKey, redact, redactString, redactUrl } from '../src/redact.js';

const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImF1ZCI6ImFwaSJ9.c2lnbmF0dXJlLXNlY3JldA';

describe('redact', () => {
  it('replaces values of sensitive keys at any depth, case-insensitively', () => {
    const input = {
      headers: {
        Authorization: 'Basic dXNlcjpwYXNz',
        'X-Api-Key': 'k-1',
        Cookie: 'a=b',
        'set-cookie': ['s=1'],
      },
      body: {
        client_secret: 'cs',
        refresh_token: 'rt',
        nested: [{ Password: 'pw', AZD_AUTH_SECRET: 'azd' }],
      },
      clientSecret: 'camel',
      AZURE_CLIENT_SECRET: 'env',
      user: 'alice',
    };
    expect(redact(input)).toEqual({
      headers: { Authorization: REDACTED, 'X-Api-Key': REDACTED, Cookie: REDACTED, 'set-cookie': REDACTED },
      body: {
        client_secret: REDACTED,
        refresh_token: REDACTED,
        nested: [{ Password: REDACTED, AZD_AUTH_SECRET: REDACTED }],
      },
      clientSecret: REDACTED,
      AZURE_CLIENT_SECRET: REDACTED,
      user: 'alice',
    });
  });

  it('walks into a `token` status object but redacts whole values of other sensitive keys', () => {
    expect(redact({ token: { valid: true, token: 'abc', expiresOnTimestamp: 5 } })).toEqual({
      token: { valid: true, token: REDACTED, expiresOnTimestamp: 5 },
    });
    expect(redact({ secrets: { a: 'b' }, tokens: ['t1'], cookies: { sid: 'x' } })).toEqual({
      secrets: REDACTED,
      tokens: REDACTED,
      cookies: REDACTED,
    });
  });

  it('keeps flags and unset values under sensitive keys, hides numbers', () => {
    expect(redact({ secret: true, password: null, token: undefined, client_secret: '', pin: 1 })).toEqual({
      secret: true,
      password: null,
      token: undefined,
      client_secret: '',
      pin: 1,
    });
    expect(redact({ password: 1234 })).toEqual({ password: REDACTED });
  });

  it('does not mutate its input and survives cycles', () => {
    const input: Record<string, unknown> = { token: 't', list: [1, 2] };
    input.self = input;
    const out = redact(input) as Record<string, unknown>;
    expect(input.token).toBe('t');
    expect(out.token).toBe(REDACTED);
    expect(out.self).toBe('[Circular]');
  });

  it('keeps error codes under the key `code` but hides authorization codes', () => {
    expect(redact({ code: 'ECONNREFUSED' })).toEqual({ code: 'ECONNREFUSED' });
    expect(redact({ code: 'invalid_grant' })).toEqual({ code: 'invalid_grant' });
    expect(redact({ code: 401 })).toEqual({ code: 401 });
    expect(redact({ code: '0.AXoA8f3-dQz_k9Lx1' })).toEqual({ code: REDACTED });
  });

  it('finds secrets by value pattern anywhere in strings', () => {
    expect(redactString(`got Bearer abc.def-123 from x`)).toBe(`got Bearer ${REDACTED} from x`);
    expect(redactString(`token ${JWT} used`)).toBe(`token ${REDACTED} used`);
    expect(redactString('POST /token?grant_type=authorization_code&code=AbC123&code_verifier=vvv&x=1')).toBe(
      `POST /token?grant_type=authorization_code&code=${REDACTED}&code_verifier=${REDACTED}&x=1`,
    );
    expect(redactString('client_assertion_type=jwt-bearer&client_assertion=zzz')).toBe(
      `client_assertion_type=jwt-bearer&client_assertion=${REDACTED}`,
    );
    expect(redactString('https://app/cb#access_token=aaa&id_token=bbb')).toBe(
      `https://app/cb#access_token=${REDACTED}&id_token=${REDACTED}`,
    );
    expect(redactString('upstream said {"error":"x","access_token":"abc\\"def"}')).toBe(
      `upstream said {"error":"x","access_token":"${REDACTED}"}`,
    );
    expect(redactString('header api-key: 0123456789abcdef')).toBe(`header api-key: ${REDACTED}`);
    expect(redactString('error_code=AADSTS700016')).toBe('error_code=AADSTS700016');
  });

  it('finds credentials in URLs, connection strings, env assignments and raw header lists', () => {
    expect(redactString('connect redis://:r3dispass@cache:6379/0 failed')).toBe(
      `connect redis://${REDACTED}@cache:6379/0 failed`,
    );
    expect(redactString('https://user:pa55@host/x')).toBe(`https://${REDACTED}@host/x`);
    expect(redactString('mailto:someone@example.com and https://host/a@b')).toBe(
      'mailto:someone@example.com and https://host/a@b',
    );
    expect(
      redactString('DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc123==;EndpointSuffix=core'),
    ).toBe(`DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${REDACTED};EndpointSuffix=core`);
    expect(redactString('env AZURE_CLIENT_SECRET=xyz AZD_AUTH_SECRET="q w" LOG_LEVEL=debug')).toBe(
      `env AZURE_CLIENT_SECRET=${REDACTED} AZD_AUTH_SECRET=${REDACTED} LOG_LEVEL=debug`,
    );
    expect(
      redact(['Host', 'x', 'X-Api-Key', 'k-123', 'Authorization', 'Basic abc', 'Accept', 'json']),
    ).toEqual(['Host', 'x', 'X-Api-Key', REDACTED, 'Authorization', REDACTED, 'Accept', 'json']);
  });

  it('removes PEM private keys but keeps certificates', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    const rsa = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----';
    const cert = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----';
    const out = redactString(`${cert}\n${key}\n${rsa}\ntrailing`);
    expect(out).not.toMatch(/MIIEvQ|MIIEow/);
    expect(out).toContain(cert);
    expect(out).toContain('trailing');
    expect(redactString('-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE truncated')).not.toContain('MHcCAQEE');
  });

  it('turns errors into plain objects with redacted message and stack', () => {
    const cause = new Error('inner with client_secret=abc');
    const error = Object.assign(new Error(`failed with ${JWT}`, { cause }), {
      code: 'ERR_X',
      status: 502,
      token: 'tok',
    });
    const out = redact(error) as Record<string, unknown>;
    expect(out).toMatchObject({
      name: 'Error',
      message: `failed with ${REDACTED}`,
      code: 'ERR_X',
      status: 502,
      token: REDACTED,
    });
    expect(String(out.stack)).toContain('redact.test');
    expect(JSON.stringify(out)).not.toMatch(/eyJhbGci|client_secret=abc/);
    expect((out.cause as Record<string, unknown>).message).toBe(`inner with client_secret=${REDACTED}`);
  });

  // Found by the fuzz suite (tests/fuzz): a client that hung up mid-body made openai-proxy answer
  // 502 and log the UpstreamError with its stack and the undici error's.
  it('logs typed errors (AppError) and their causes without a stack', () => {
    const cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const out = redact(new UpstreamError('upstream request failed', { cause })) as Record<string, unknown>;
    expect(out).toMatchObject({
      name: 'UpstreamError',
      message: 'upstream request failed',
      status: 502,
      code: 'bad_gateway',
      cause: { name: 'Error', message: 'other side closed', code: 'UND_ERR_SOCKET' },
    });
    expect(JSON.stringify(out)).not.toMatch(/"stack"|\n\s+at /);
  });

  it('handles Headers, Maps, URLs, Buffers and bigints', () => {
    const headers = new Headers({ authorization: 'Bearer x', accept: 'json' });
    expect(redact({ headers })).toEqual({ headers: { authorization: REDACTED, accept: 'json' } });
    expect(redact(new Map([['api-key', 'k']]))).toEqual({ 'api-key': REDACTED });
    expect(redact(new URL('https://u:p@h/cb?code=c1&ok=1'))).toBe(
      `https://${REDACTED}@h/cb?code=${REDACTED}&ok=1`,
    );
    expect(redact(Buffer.from('secret'))).toBe('[6 bytes]');
    expect(redact(10n)).toBe('10');
  });

  it('recognises sensitive key names by suffix', () => {
    for (const k of [
      'sessionToken',
      'AZURE_CLIENT_CERTIFICATE_PASSWORD',
      'x-ms-token-aad-access-token',
      'Proxy-Authorization',
      'clientAssertion',
    ]) {
      expect(isSensitiveKey(k)).toBe(true);
    }
    for (const k of ['tokenRequests', 'expiresAt', 'scope', 'method', 'path'])
      expect(isSensitiveKey(k)).toBe(false);
  });

  it('redactUrl drops userinfo and secret query values', () => {
    expect(redactUrl('http://user:pw@host/x?access_token=a')).toBe(
      `http://${REDACTED}@host/x?access_token=${REDACTED}`,
    );
  });
});
