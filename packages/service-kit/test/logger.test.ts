import { captureLogger, until } from './helpers.js';

// Distinctive secret values: none of them may appear anywhere in the log output.
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6Imsxbm90cmVhbCJ9.eyJzdWIiOiJib2JzZWNyZXRzdWIiLCJhdWQiOiJhcGkifQ.c2lnUzNjcjN0WHl6';
const PEM_BODY = 'MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDpemSecretKeyBody';
const SECRETS = {
  authorization: 'Bearer authzS3cretValue01',
  proxyAuthorization: 'Basic cHJveHlTM2NyZXQ6cHc=',
  apiKey: 'apiKeyS3cretValue02',
  xApiKey: 'xApiKeyS3cretValue03',
  cookie: 'session=cookieS3cretValue04',
  setCookie: 'sid=setCookieS3cretValue05; HttpOnly',
  identityHeader: 'identityHeaderS3cret06',
  secret: 'plainSecretValue07',
  password: 'passwordValue08',
  clientSecret: 'clientSecretValue09',
  clientAssertion: 'clientAssertionValue10',
  assertion: 'assertionValue11',
  code: '0.AXoAauthCodeValue12-xyz',
  codeVerifier: 'codeVerifierValue13',
  refreshToken: 'refreshTokenValue14',
  accessToken: 'accessTokenValue15',
  idToken: 'idTokenValue16',
  token: 'tokenValue17',
  azdAuthSecret: 'azdAuthSecretValue18',
  jwt: JWT,
  bearerInText: 'bearerInTextValue19',
  queryCode: 'queryCodeValue20',
  queryAssertion: 'queryAssertionValue21',
  queryAccessToken: 'queryAccessTokenValue22',
  errorSecret: 'errorMessageSecret23',
  pem: PEM_BODY,
  redisPassword: 'redisPassw0rdValue24',
  accountKey: 'accountKeyValue25',
  envSecret: 'envAssignedSecret26',
  rawHeaderKey: 'rawHeaderApiKey27',
};

describe('createLogger', () => {
  it('writes one JSON line per entry with timestamp, level, message, service, component and requestId', async () => {
    const { logger, lines, entries } = captureLogger('info');
    logger.info('plain');
    logger.child({ component: 'token' }).child({ requestId: 'r-1' }).warn('from a child', { extra: 1 });
    logger.debug('filtered out by level');
    await until(() => lines.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(lines).toHaveLength(2);
    const [first, second] = entries();
    expect(Object.keys(first!).slice(0, 4)).toEqual(['timestamp', 'level', 'message', 'service']);
    expect(first).toMatchObject({ level: 'info', message: 'plain', service: 'test-svc' });
    expect(Number.isNaN(Date.parse(String(first!.timestamp)))).toBe(false);
    expect(second).toMatchObject({
      level: 'warn',
      message: 'from a child',
      component: 'token',
      requestId: 'r-1',
      extra: 1,
    });
  });

  it('serializes errors with message and stack instead of {}', async () => {
    const { logger, lines, entries } = captureLogger();
    logger.error('call failed', { err: new Error('upstream 502') });
    logger.error(new Error('thrown directly'));
    await until(() => lines.length >= 2);
    const [a, b] = entries();
    expect(a!.err).toMatchObject({ name: 'Error', message: 'upstream 502' });
    expect(String((a!.err as { stack: string }).stack)).toMatch(/logger\.test/);
    expect(b).toMatchObject({ message: 'thrown directly' });
    expect(String(b!.stack)).toMatch(/logger\.test/);
  });

  it('leaks no secret of any kind, whatever shape it is logged in', async () => {
    const { logger, lines, text } = captureLogger('debug');
    const s = SECRETS;
    const pem = `-----BEGIN PRIVATE KEY-----\n${s.pem}\n-----END PRIVATE KEY-----`;
    const log = logger.child({ component: 'redaction-test', requestId: 'req-1' });
    // As header objects (incoming request headers, outgoing fetch Headers).
    log.info('incoming', {
      headers: {
        authorization: s.authorization,
        'proxy-authorization': s.proxyAuthorization,
        'api-key': s.apiKey,
        'X-API-KEY': s.xApiKey,
        cookie: s.cookie,
        'set-cookie': [s.setCookie],
        'x-identity-header': s.identityHeader,
      },
    });
    log.info('outgoing', { headers: new Headers({ Authorization: `Bearer ${s.jwt}`, 'api-key': s.apiKey }) });
    // As fields named after OAuth parameters and environment variables, top level and nested.
    log.info('token request', {
      client_secret: s.clientSecret,
      client_assertion: s.clientAssertion,
      assertion: s.assertion,
      code: s.code,
      code_verifier: s.codeVerifier,
      refresh_token: s.refreshToken,
      access_token: s.accessToken,
      id_token: s.idToken,
      token: s.token,
      secret: s.secret,
      password: s.password,
      env: { AZD_AUTH_SECRET: s.azdAuthSecret, AZURE_CLIENT_SECRET: s.clientSecret, secrets: [s.secret] },
      result: { accessToken: s.accessToken, refreshToken: s.refreshToken, idToken: s.idToken },
    });
    // Inside messages and free-text fields.
    log.warn(`retrying with Bearer ${s.bearerInText} and ${s.jwt}`);
    log.info(`GET /callback?code=${s.queryCode}&state=xyz`);
    log.info('form', { body: `grant_type=client_credentials&client_assertion=${s.queryAssertion}&scope=x` });
    log.info('redirect', {
      location: `https://app.example/cb#access_token=${s.queryAccessToken}&token_type=Bearer`,
    });
    log.debug('upstream body', {
      body: `{"error":"invalid","access_token":"${s.accessToken}","password":"${s.password}"}`,
    });
    log.info('key file loaded', { content: pem });
    log.error(`redis connect to rediss://default:${s.redisPassword}@cache:6380 failed`);
    log.info('storage', {
      connection: `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${s.accountKey};EndpointSuffix=x`,
    });
    log.debug(`started with AZURE_CLIENT_SECRET=${s.envSecret}`);
    log.debug('raw', { rawHeaders: ['host', 'h', 'api-key', s.rawHeaderKey] });
    log.info(pem);
    // As errors: message, cause, extra properties, stack.
    const error = Object.assign(
      new Error(`exchange failed for ${s.jwt} ${s.errorSecret.replace(/^/, 'client_secret=')}`),
      {
        request: { headers: { authorization: s.authorization } },
        cause: new Error(`cause with Bearer ${s.bearerInText}`),
      },
    );
    log.error('acquire failed', { err: error });
    log.error(error);
    log.error('splat form', error);
    await until(() => lines.length >= 17);

    const out = text();
    expect(lines.length).toBe(17);
    for (const [kind, value] of Object.entries(SECRETS)) {
      // Each secret and any long fragment of it would be a leak.
      const probe =
        kind === 'jwt' ? value.split('.')[1]! : value.replace(/^(Bearer|Basic) /, '').slice(0, 16);
      expect({ kind, leaked: out.includes(probe) }).toEqual({ kind, leaked: false });
    }
    expect(out).toContain('[REDACTED]');
    // Non-secret context survives.
    expect(out).toContain('grant_type=client_credentials');
    expect(out).toContain('state=xyz');
    expect(out).toContain('acquire failed');
  });
});
