import { z } from 'zod';
import { loadConfig, loadConfigParts, ConfigError, renamedVariables } from '../src/index.js';

const schema = z.object({
  AZURE_CLIENT_ID: z.string(),
  API_BASE_URL: z.url(),
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
});

describe('loadConfig', () => {
  it('returns a typed frozen object with defaults', () => {
    const config = loadConfig(schema, { AZURE_CLIENT_ID: 'abc', API_BASE_URL: 'https://x.example' });
    expect(config).toEqual({ AZURE_CLIENT_ID: 'abc', API_BASE_URL: 'https://x.example', PORT: 8080 });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every bad or missing variable in one error', () => {
    let error: unknown;
    try {
      loadConfig(schema, { API_BASE_URL: 'not a url', PORT: '99999', AZURE_CLIENT_ID: '' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues).toHaveLength(3);
    expect(issues.join('\n')).toMatch(/AZURE_CLIENT_ID: required but not set/);
    expect(issues.join('\n')).toMatch(/API_BASE_URL/);
    expect(issues.join('\n')).toMatch(/PORT/);
  });
});

describe('loadConfigParts', () => {
  const other = z.object({ AZURE_TENANT_ID: z.string() });

  it('returns every part when all load', () => {
    const parts = loadConfigParts({
      app: () => loadConfig(schema, { AZURE_CLIENT_ID: 'abc', API_BASE_URL: 'https://x.example' }),
      credential: () => loadConfig(other, { AZURE_TENANT_ID: 't' }),
    });
    expect(parts.app.PORT).toBe(8080);
    expect(parts.credential.AZURE_TENANT_ID).toBe('t');
  });

  it('reports the issues of every part and the known ones in one ConfigError', () => {
    const attempt = () =>
      loadConfigParts(
        {
          app: () => loadConfig(schema, { API_BASE_URL: 'https://x.example' }),
          credential: () => loadConfig(other, {}),
        },
        ['TARGET_HOST: conflicts with PROMETHEUS_QUERY_ENDPOINT'],
      );
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (e) {
      expect((e as ConfigError).issues).toEqual([
        'TARGET_HOST: conflicts with PROMETHEUS_QUERY_ENDPOINT',
        'AZURE_CLIENT_ID: required but not set',
        'AZURE_TENANT_ID: required but not set',
      ]);
    }
  });

  it('lets errors other than ConfigError through', () => {
    expect(() => loadConfigParts({ broken: () => JSON.parse('{') })).toThrow(SyntaxError);
  });
});

describe('renamedVariables', () => {
  const renames = { OLD_NAME: 'NEW_NAME' };

  it('reads the old name when the new one is unset, with a warning', () => {
    expect(renamedVariables({ OLD_NAME: 'v' }, renames)).toEqual({
      env: { OLD_NAME: 'v', NEW_NAME: 'v' },
      warnings: ['OLD_NAME is deprecated: set NEW_NAME instead (OLD_NAME is read for now)'],
    });
  });

  it('ignores the old name when the new one is set, and says so', () => {
    expect(renamedVariables({ OLD_NAME: 'old', NEW_NAME: 'new' }, renames)).toEqual({
      env: { OLD_NAME: 'old', NEW_NAME: 'new' },
      warnings: ['OLD_NAME is deprecated and ignored: NEW_NAME is set'],
    });
  });

  it('says nothing when the old name is unset or blank', () => {
    expect(renamedVariables({ NEW_NAME: 'n', OLD_NAME: ' ' }, renames).warnings).toEqual([]);
  });
});
