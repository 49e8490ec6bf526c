import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import winston from 'winston';
import { createLogger, lineLogger } from '../src/logger.js';
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

describe('createLogger cost', () => {
  const LEVEL = Symbol.for('level');

  it('drops entries below the level before formatting them or reading their fields', async () => {
    const { logger, lines, entries } = captureLogger('info');
    // Every format run goes through logger.format.transform: count them.
    const transform = logger.format.transform.bind(logger.format);
    let formatted = 0;
    logger.format.transform = (info, opts) => {
      formatted++;
      return transform(info, opts);
    };
    // A field that must not even be read while its entry is hidden.
    let reads = 0;
    const meta = {
      get detail() {
        reads++;
        return 'expensive';
      },
    };
    const child = logger.child({ requestId: 'r-1' }).child({ component: 'c' });
    logger.debug('hidden', meta);
    logger.verbose('hidden', meta);
    logger.log('debug', 'hidden', meta);
    logger.log(
      Object.defineProperty({ level: 'debug', message: 'hidden' }, 'detail', {
        get: () => meta.detail,
        enumerable: true,
      }),
    );
    child.debug('hidden', meta);
    child.log('silly', 'hidden', meta);
    logger.write(
      Object.defineProperty({ level: 'http', message: 'hidden', [LEVEL]: 'http' }, 'detail', {
        get: () => reads++,
        enumerable: true,
      }),
    );
    await new Promise((r) => setTimeout(r, 30));
    expect({ formatted, reads, lines: lines.length }).toEqual({ formatted: 0, reads: 0, lines: 0 });

    child.info('shown', meta);
    await until(() => lines.length === 1);
    expect(formatted).toBe(1);
    expect(entries()[0]).toMatchObject({
      message: 'shown',
      requestId: 'r-1',
      component: 'c',
      detail: 'expensive',
    });

    // The level is read on every call: raising it at run time shows what was hidden.
    logger.level = 'debug';
    child.debug('now shown');
    await until(() => lines.length === 2);
    expect(entries()[1]).toMatchObject({ level: 'debug', message: 'now shown', requestId: 'r-1' });
    expect(logger.isDebugEnabled()).toBe(true);
  });

  it('keeps redacting fields of every shape on the cheap paths (plain text, repeated keys)', async () => {
    const { logger, lines, text } = captureLogger('info');
    for (let i = 0; i < 3; i++) {
      // Same keys line after line (their verdicts are remembered) and text without secrets next to
      // text with them.
      logger.info('request', {
        path: `/a/${i}`,
        scope: 'https://vault.azure.net/.default',
        password: `pw-${i}-S3cretValue`,
        note: `see api-key: k${i}S3cretValue and redis://u:p${i}S3cretValue@host`,
        code: i === 0 ? 'ECONNRESET' : `0.AXo${i}S3cretValue`,
      });
    }
    await until(() => lines.length === 3);
    expect(text()).not.toMatch(/S3cretValue/);
    expect(text()).toContain('https://vault.azure.net/.default');
    expect(text()).toContain('"code":"ECONNRESET"');
  });

  it('writes the lines of one event-loop turn in one write when batching, in order', async () => {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk.toString('utf8'));
        cb();
      },
    });
    const batched = createLogger({ service: 'b', stream, batch: true });
    batched.info('one');
    batched.warn('two');
    batched.error('three');
    expect(writes).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    expect(
      writes[0]!.split('\n').map((l) => (l ? (JSON.parse(l) as { message: string }).message : l)),
    ).toEqual(['one', 'two', 'three', '']);

    // Without `batch` each line is written as it is logged.
    writes.length = 0;
    const direct = createLogger({ service: 'd', stream });
    direct.info('one');
    direct.info('two');
    expect(writes).toHaveLength(2);
  });

  it('flushes batched stdout lines when the process exits right after logging', async () => {
    const dist = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
    const script = `
      const { createLogger } = await import(${JSON.stringify(dist)});
      const logger = createLogger({ service: 'exit-test', batch: true });
      logger.info('first');
      logger.error('last words', { password: 'exitS3cretValue' });
      if (process.argv[1] === 'throw') setTimeout(() => { logger.warn('from a timer'); throw new Error('boom'); }, 5);
      else process.exit(3);
    `;
    const run = (mode: string) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        execFile(process.execPath, ['--input-type=module', '-e', script, mode], (error, stdout) =>
          resolve({ code: error ? (error.code as number) : 0, stdout }),
        );
      });
    const exited = await run('exit');
    expect(exited.code).toBe(3);
    expect(
      exited.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { message: string }).message),
    ).toEqual(['first', 'last words']);
    expect(exited.stdout).not.toContain('exitS3cretValue');
    const thrown = await run('throw');
    expect(thrown.code).toBe(1);
    expect(thrown.stdout).toContain('"message":"from a timer"');
  });
});

describe('lineLogger', () => {
  it('writes the line a child logger writes: same fields, order and redaction', async () => {
    const { logger, lines, entries } = captureLogger('info');
    const fields = { audit: 'issued', client: 'api', scope: JWT, cacheHit: true, requestId: 'r-1' };
    logger.child({ component: 'audit' }).info('token issued', fields);
    lineLogger(logger, { component: 'audit' }).info('token issued', fields);
    await until(() => lines.length === 2);
    const [viaChild, viaLine] = entries().map(({ timestamp, ...rest }) => {
      expect(typeof timestamp).toBe('string');
      return rest;
    });
    expect(Object.keys(viaLine!)).toEqual(Object.keys(viaChild!));
    expect(viaLine).toEqual(viaChild);
    expect(viaLine).toMatchObject({
      level: 'info',
      service: 'test-svc',
      component: 'audit',
      scope: '[REDACTED]',
    });
    expect(lines.join('\n')).not.toContain(JWT);
  });

  it('follows the logger level, also when it changes at run time', async () => {
    const { logger, lines, entries } = captureLogger('warn');
    const audit = lineLogger(logger, { component: 'audit' });
    audit.info('hidden');
    expect(audit.isLevelEnabled('info')).toBe(false);
    audit.warn('shown', { reason: 'x' });
    logger.level = 'info';
    audit.info('shown too');
    await until(() => lines.length === 2);
    expect(entries().map((e) => [e.level, e.message])).toEqual([
      ['warn', 'shown'],
      ['info', 'shown too'],
    ]);
  });

  it('takes winston’s own path when another transport was added', async () => {
    const { logger, lines } = captureLogger('info');
    const extra: string[] = [];
    logger.add(
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk: Buffer, _enc, cb) {
            extra.push(chunk.toString('utf8'));
            cb();
          },
        }),
      }),
    );
    lineLogger(logger, { component: 'audit' }).info('to both', { client: 'api' });
    await until(() => lines.length === 1 && extra.length === 1);
    expect(JSON.parse(extra[0]!)).toMatchObject({ message: 'to both', client: 'api', component: 'audit' });
  });
});
