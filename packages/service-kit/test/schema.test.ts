import { z } from 'zod';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { booleanFlag, csvList, durationMs, hostSchema, logLevelSchema, portSchema } from '../src/schema.js';

describe('schema fragments', () => {
  const schema = z.object({
    LOG_LEVEL: logLevelSchema,
    PORT: portSchema(8080),
    VERBOSE: booleanFlag(false),
    TIMEOUT_MS: durationMs.default(30_000),
    HOST: hostSchema,
  });

  it('apply defaults when variables are unset or empty', () => {
    expect(loadConfig(schema, { PORT: '' })).toEqual({
      LOG_LEVEL: 'info',
      PORT: 8080,
      VERBOSE: false,
      TIMEOUT_MS: 30_000,
      HOST: '0.0.0.0',
    });
  });

  it('parse environment strings', () => {
    expect(
      loadConfig(schema, {
        LOG_LEVEL: 'DEBUG',
        PORT: '0',
        VERBOSE: 'Yes',
        TIMEOUT_MS: '1.5s',
        HOST: '[::1]',
      }),
    ).toEqual({
      LOG_LEVEL: 'debug',
      PORT: 0,
      VERBOSE: true,
      TIMEOUT_MS: 1500,
      HOST: '::1',
    });
  });

  it.each([
    ['1500', 1500],
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('durationMs parses %s', (input, expected) => {
    expect(durationMs.parse(input)).toBe(expected);
  });

  it.each([
    ['on', true],
    ['1', true],
    ['TRUE', true],
    ['off', false],
    ['0', false],
    ['no', false],
  ])('booleanFlag parses %s', (input, expected) => {
    expect(booleanFlag(!expected).parse(input)).toBe(expected);
  });

  it('report every bad value at once', () => {
    let error: unknown;
    try {
      loadConfig(schema, {
        LOG_LEVEL: 'loud',
        PORT: '70000',
        VERBOSE: 'maybe',
        TIMEOUT_MS: '10 parsecs',
        HOST: 'bad host!',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.split(':')[0])).toEqual([
      'LOG_LEVEL',
      'PORT',
      'VERBOSE',
      'TIMEOUT_MS',
      'HOST',
    ]);
    expect(issues).toContain('PORT: expected a port number (0-65535)');
  });

  it('hostSchema accepts IPs and DNS names', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', 'localhost', 'svc.ns.svc.cluster.local'])
      expect(hostSchema.parse(host)).toBe(host);
    expect(hostSchema.safeParse('http://x').success).toBe(false);
  });
});

describe('csvList', () => {
  it('splits on commas, trims items and drops empty ones', () => {
    expect(csvList().parse(' a, b ,,c ')).toEqual(['a', 'b', 'c']);
    expect(csvList().parse('a b,c')).toEqual(['a b', 'c']);
    expect(csvList().default(['x']).parse(undefined)).toEqual(['x']);
  });

  it('with whitespace, spaces and newlines separate items too', () => {
    expect(csvList({ whitespace: true }).parse('a b,\nc\t, d')).toEqual(['a', 'b', 'c', 'd']);
  });
});
