// Azure Key Vault stand-in (secrets only) for real service clients such as @azure/keyvault-secrets'
// SecretClient: HTTPS with its own CA, Key Vault's challenge-based authentication (a request without
// a bearer gets 401 with `WWW-Authenticate: Bearer authorization=..., resource=...`, which the SDK
// answers by acquiring a token for that resource), bearer JWTs verified (signature against
// dev-entra's keys, audience), and get/set/list of secrets with Key Vault's JSON shapes.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerTls } from './kube-api-certs.js';
import type { TokenVerifier } from './openai-upstream.js';

/** The resource (token audience) of the public cloud's Key Vault. */
export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';

export interface KeyVaultOptions {
  /** Checks a bearer token (e.g. `jwksVerifier({ jwksUrl, issuer, audience: KEY_VAULT_RESOURCE })`). */
  verify: TokenVerifier;
  /** Tenant named in the challenge's `authorization` URI (the SDK asks for its token in that tenant). */
  tenantId: string;
  /** Authority of the challenge (default `https://login.microsoftonline.com`, as Key Vault sends). */
  authorityHost?: string;
  /** Resource named in the challenge (default KEY_VAULT_RESOURCE). */
  resource?: string;
  /** Secrets present at start, name -> value. */
  secrets?: Record<string, string>;
  host?: string;
  port?: number;
}

export interface KeyVaultRequest {
  method: string;
  path: string;
  /** 401 for the challenge and for refused tokens. */
  status: number;
  /** `aud` of an accepted token. */
  audience?: unknown;
  /** Why a token was refused. */
  reason?: string;
}

interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  created: number;
}

export interface KeyVault {
  /** https://127.0.0.1:PORT, the vault URL for a SecretClient. */
  url: string;
  /** CA of the vault's certificate (NODE_EXTRA_CA_CERTS for a client process). */
  caPem: string;
  /** Every request with its outcome, for assertions. */
  requests: KeyVaultRequest[];
  /** The current value of a secret, if any. */
  secret(name: string): string | undefined;
  setSecret(name: string, value: string): void;
  close(): Promise<void>;
}

const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_BODY_BYTES = 256 * 1024;

export async function startKeyVault(options: KeyVaultOptions): Promise<KeyVault> {
  const host = options.host ?? '127.0.0.1';
  const resource = options.resource ?? KEY_VAULT_RESOURCE;
  const authority = `${(options.authorityHost ?? 'https://login.microsoftonline.com').replace(/\/+$/, '')}/${options.tenantId}`;
  const challenge = `Bearer authorization="${authority}", resource="${resource}"`;
  const tls = await createServerTls('key-vault-stand-in', host === '127.0.0.1' ? [] : [host]);
  const store = new Map<string, SecretVersion[]>();
  const requests: KeyVaultRequest[] = [];
  let url = '';

  const put = (name: string, value: string, extra: Partial<SecretVersion> = {}): SecretVersion => {
    const version: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value,
      created: Math.floor(Date.now() / 1000),
      ...extra,
    };
    store.set(name, [...(store.get(name) ?? []), version]);
    return version;
  };
  for (const [name, value] of Object.entries(options.secrets ?? {})) put(name, value);

  const bundle = (name: string, v: SecretVersion) => ({
    value: v.value,
    id: `${url}/secrets/${name}/${v.version}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    ...(v.tags ? { tags: v.tags } : {}),
    attributes: {
      enabled: true,
      created: v.created,
      updated: v.created,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
  });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, headers = {}) =>
    send(res, status, { error: { code, message } }, headers);

  const handle = async (req: IncomingMessage, res: ServerResponse, record: KeyVaultRequest) => {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'https://vault');
    const auth = req.headers.authorization;
    const token = /^Bearer\s+(\S+)$/i.exec(auth ?? '')?.[1];
    if (!token) {
      // The SDK's first, unauthenticated request: tell it where to get a token, and for what.
      record.status = 401;
      req.resume();
      return error(res, 401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', {
        'www-authenticate': challenge,
      });
    }
    try {
      record.audience = (await options.verify(token)).aud;
    } catch (err) {
      record.status = 401;
      record.reason = (err as Error).message;
      req.resume();
      return error(res, 401, 'Unauthorized', `AKV10032: Invalid token: ${record.reason}`, {
        'www-authenticate': challenge,
      });
    }
    if (!searchParams.get('api-version')) {
      req.resume();
      return error(res, 400, 'BadParameter', 'The api-version query parameter is required.');
    }
    const [collection, name, version, ...rest] = pathname.split('/').filter(Boolean);
    if (collection !== 'secrets' || rest.length > 0) {
      req.resume();
      return error(res, 404, 'NotFound', `no such Key Vault path: ${pathname}`);
    }
    if (name === undefined && req.method === 'GET') {
      const value = [...store.entries()].map(([n, versions]) => {
        const { value: _value, ...item } = bundle(n, versions.at(-1)!);
        return { ...item, id: `${url}/secrets/${n}` };
      });
      return send(res, 200, { value, nextLink: null });
    }
    if (name === undefined || !SECRET_NAME.test(name)) {
      req.resume();
      return error(
        res,
        400,
        'BadParameter',
        'The secret name is invalid (1-127 letters, digits and dashes).',
      );
    }
    if (req.method === 'GET') {
      const versions = store.get(name) ?? [];
      const found = version ? versions.find((v) => v.version === version) : versions.at(-1);
      if (!found)
        return error(
          res,
          404,
          'SecretNotFound',
          `A secret with (name/id) ${name}${version ? `/${version}` : ''} was not found in this key vault.`,
        );
      return send(res, 200, bundle(name, found));
    }
    if (req.method === 'PUT' && version === undefined) {
      const body = await readJson(req);
      if (typeof body?.value !== 'string')
        return error(res, 400, 'BadParameter', 'The request body must carry a string value.');
      const stored = put(name, body.value, {
        ...(typeof body.contentType === 'string' ? { contentType: body.contentType } : {}),
        ...(isStringRecord(body.tags) ? { tags: body.tags } : {}),
      });
      return send(res, 200, bundle(name, stored));
    }
    req.resume();
    return error(res, 405, 'MethodNotAllowed', `${req.method} is not supported by the stand-in`);
  };

  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const record: KeyVaultRequest = { method: req.method ?? '', path: req.url ?? '', status: 0 };
    requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    handle(req, res, record).catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      const status = err instanceof BodyError ? 400 : 500;
      error(res, status, status === 400 ? 'BadParameter' : 'InternalError', String((err as Error).message));
    });
  });
  server.listen(options.port ?? 0, host);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  url = `https://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  return {
    url,
    caPem: tls.caPem,
    requests,
    secret: (name) => store.get(name)?.at(-1)?.value,
    setSecret: (name, value) => void put(name, value),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class BodyError extends Error {}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyError('request body too large'));
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        resolve(
          typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined,
        );
      } catch {
        reject(new BodyError('request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}
