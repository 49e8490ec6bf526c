// Deep redaction of secrets before anything reaches a log line. Two nets: sensitive key names
// (headers, OAuth parameters, environment variables) and value patterns that are secrets wherever
// they appear (bearer tokens, JWTs, PEM private keys, secret query parameters in URLs and messages).

import { AppError } from './errors.js';
import { sourceMappedStack } from './source-mapped-stack.js';

export const REDACTED = '[REDACTED]';

/** Key names (compared lower-cased with `-` and `_` removed) whose values are always secret. */
export const SENSITIVE_KEYS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-api-key',
  'apikey',
  'ocp-apim-subscription-key',
  'cookie',
  'set-cookie',
  'x-identity-header',
  'x-ms-token-aad-access-token',
  'x-ms-token-aad-id-token',
  'x-ms-token-aad-refresh-token',
  'x-forwarded-access-token',
  'secret',
  'secrets',
  'password',
  'passwd',
  'passphrase',
  'client_secret',
  'client_assertion',
  'assertion',
  'code_verifier',
  'refresh_token',
  'access_token',
  'id_token',
  'token',
  'tokens',
  'cookies',
  'credentials',
  'private_key',
  'session',
  'AZD_AUTH_SECRET',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'IDENTITY_HEADER',
  'MSI_SECRET',
];

/** Key-name endings that mark a secret (`sessionToken`, `AZURE_CLIENT_SECRET`, `adminPassword`). */
const SENSITIVE_SUFFIXES = [
  'secret',
  'password',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'sessiontoken',
  'bearertoken',
  'authtoken',
  'csrftoken',
  'apikey',
  'privatekey',
  'cookie',
  'assertion',
];

const normalize = (key: string) => key.toLowerCase().replace(/[-_]/g, '');
const SENSITIVE = new Set(SENSITIVE_KEYS.map(normalize));

/**
 * `code` is an OAuth authorization code in query strings but an error code almost everywhere else
 * (`ECONNREFUSED`, `invalid_grant`), so the key `code` keeps values that look like error codes.
 */
const ERROR_CODE = /^(?:[A-Z][A-Z0-9_]{0,47}|[a-z]+(?:_[a-z]+){0,7})$/;

export function isSensitiveKey(key: string): boolean {
  return keyKind(key) >= SECRET_KEY;
}

// What a key name means for its value; log field names repeat line after line, so the verdict
// (lower-casing, stripping, a Set and 13 suffix checks) is remembered (bounded: names can be data).
const PLAIN_KEY = 0;
const CODE_KEY = 1;
const SECRET_KEY = 2;
const TOKEN_KEY = 3;
const keyKinds = new Map<string, number>();
const MAX_KEY_KINDS = 2_000;

function keyKind(key: string): number {
  let kind = keyKinds.get(key);
  if (kind === undefined) {
    const k = normalize(key);
    if (k === 'code') kind = CODE_KEY;
    else if (SENSITIVE.has(k) || SENSITIVE_SUFFIXES.some((s) => k.endsWith(s)))
      kind = k === 'token' ? TOKEN_KEY : SECRET_KEY;
    else kind = PLAIN_KEY;
    if (keyKinds.size >= MAX_KEY_KINDS) keyKinds.clear();
    keyKinds.set(key, kind);
  }
  return kind;
}

// Query/form parameter names whose values are secret (`?code=...&client_assertion=...`).
const SECRET_PARAMS = [
  'code',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'assertion',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'api-key',
  'api_key',
  'apikey',
  'subscription-key',
  'password',
  'sig',
  // Connection-string parts (`...;AccountKey=...;`).
  'AccountKey',
  'SharedAccessKey',
  'SharedAccessSignature',
  'pwd',
];
const paramPattern = new RegExp(
  `(^|[^A-Za-z0-9_.-])(${SECRET_PARAMS.map(escapeRe).join('|')})=([^&\\s#"',;<>]+)`,
  'gi',
);
// Header-like or JSON-like `name: value` pairs inside free text, e.g. an upstream error body.
const headerPattern =
  /\b(authorization|proxy-authorization|x-api-key|api-key|cookie|set-cookie|x-identity-header)(\s*[:=]\s*)("?)[^\r\n"]+\3/gi;
const jsonPairPattern =
  /("(?:client_secret|client_assertion|assertion|access_token|refresh_token|id_token|code_verifier|password|secret|token|api[-_]?key)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
const bearerPattern = /\b(Bearer|Basic|Negotiate|PoP)\s+[A-Za-z0-9\-._~+/]+=*/gi;
const jwtPattern = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
// `scheme://user:password@host` inside any text (redis://:pw@host, https://u:p@host).
const userinfoPattern = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi;
// Environment-style assignments of secret-named variables: `AZURE_CLIENT_SECRET=...`.
const envAssignPattern =
  /\b([A-Z][A-Z0-9_]*(?:SECRET|PASSWORD|TOKEN|API_KEY|APIKEY|PRIVATE_KEY)[A-Z0-9_]*)=("[^"]*"|'[^']*'|\S+)/g;
const pemPattern = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;

/**
 * What every pattern above needs at least one of: `=` (parameters, env assignments, `name=` headers),
 * `"` (JSON pairs), `@` (userinfo), `eyJ` (JWTs), `-----BEGIN` (PEM), an auth scheme word and a space,
 * or a secret header name and `:`. Text with none of them has nothing to replace, which is most log
 * text (ids, names, paths, plain URLs, messages): one scan instead of eight.
 */
const MAY_HOLD_SECRET =
  /[="@]|eyJ|-----BEGIN|(?:bearer|basic|negotiate|pop)\s|(?:authorization|api-key|cookie|x-identity-header)\s*:/i;

function escapeRe(s: string) {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/** Replaces every secret-looking substring of `text`. */
export function redactString(text: string): string {
  if (text.length < 6 || !MAY_HOLD_SECRET.test(text)) return text;
  return text
    .replace(pemPattern, `-----BEGIN $1PRIVATE KEY-----${REDACTED}`)
    .replace(jwtPattern, REDACTED)
    .replace(bearerPattern, `$1 ${REDACTED}`)
    .replace(jsonPairPattern, `$1"${REDACTED}"`)
    .replace(headerPattern, `$1$2$3${REDACTED}$3`)
    .replace(paramPattern, `$1$2=${REDACTED}`)
    .replace(userinfoPattern, `$1${REDACTED}@`)
    .replace(envAssignPattern, `$1=${REDACTED}`);
}

/** A URL (or path with query) with secret query parameter values replaced; credentials dropped. */
export function redactUrl(url: string | URL): string {
  return redactString(String(url).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, `$1${REDACTED}@`));
}

const MAX_DEPTH = 12;

/**
 * Deep copy of `value` with secrets replaced by `[REDACTED]`. Never mutates its input, survives
 * cycles, turns Errors into `{ name, message, code?, status?, stack?, cause? }` (the stack of an
 * unexpected error only, see walkError; HTTP responses never carry one) and Buffers into a length note.
 */
export function redact(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

/**
 * The fields of a log entry, redacted as `redact(entry)` would (its own enumerable string keys; the
 * entry itself is not copied first), `leading` keys first and in that order, undefined values left
 * out. One pass: the logger's line is this object, serialized.
 */
export function redactFields(entry: object, leading: readonly string[] = []): Record<string, unknown> {
  const fields = entry as Record<string, unknown>;
  const seen = new WeakSet<object>();
  seen.add(entry);
  const out: Record<string, unknown> = {};
  for (const key of leading) {
    const v = fields[key];
    if (v !== undefined && Object.hasOwn(fields, key)) out[key] = redactEntry(key, v, 0, seen);
  }
  for (const key of Object.keys(entry)) {
    if (key in out) continue;
    const v = redactEntry(key, fields[key], 0, seen);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>, stacks = true): unknown {
  switch (typeof value) {
    case 'string':
      return redactString(value);
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof URL) return redactUrl(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  seen.add(value);
  try {
    if (value instanceof Error) return walkError(value, depth, seen, stacks);
    if (Array.isArray(value)) return walkArray(value, depth, seen);
    if (value instanceof Map)
      return walkEntries(
        [...value.entries()].map(([k, v]) => [String(k), v]),
        depth,
        seen,
      );
    if (value instanceof Set) return [...value].map((v) => walk(v, depth + 1, seen));
    // By tag, not `instanceof Headers`: reading the global loads Node's fetch (about 6 MB of RSS).
    if ((value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Headers')
      return walkEntries([...(value as Headers).entries()], depth, seen);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(value), depth + 1, seen);
    return walkEntries(Object.entries(value), depth, seen);
  } finally {
    seen.delete(value);
  }
}

/** Arrays; in flat name/value lists such as `req.rawHeaders`, a secret name hides the next item. */
function walkArray(values: unknown[], depth: number, seen: WeakSet<object>): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const previous = values[i - 1];
    const hide =
      typeof previous === 'string' &&
      i % 2 === 1 &&
      typeof v === 'string' &&
      v !== '' &&
      isSensitiveKey(previous);
    out.push(hide ? REDACTED : walk(v, depth + 1, seen));
  }
  return out;
}

function walkEntries(entries: Array<[string, unknown]>, depth: number, seen: WeakSet<object>) {
  const out: Record<string, unknown> = {};
  for (const [key, v] of entries) out[key] = redactEntry(key, v, depth, seen);
  return out;
}

function redactEntry(key: string, v: unknown, depth: number, seen: WeakSet<object>): unknown {
  // Nothing to hide in "not set" or a flag (`secret: true` = "a secret is configured").
  if (v === undefined || v === null || v === '' || typeof v === 'boolean') return v;
  const kind = keyKind(key);
  if (kind === PLAIN_KEY) return walk(v, depth + 1, seen);
  if (kind === CODE_KEY) {
    return typeof v === 'number' || (typeof v === 'string' && ERROR_CODE.test(v)) ? v : REDACTED;
  }
  // `token: provider.status()` or `token: { token, expiresOnTimestamp }` are wrappers worth seeing;
  // their secret parts are caught by the nested key rules and the JWT pattern.
  return kind === TOKEN_KEY && isPlainObject(v) ? walk(v, depth + 1, seen) : REDACTED;
}

/**
 * A typed AppError is an expected failure with a status (an upstream down, a bad request): its
 * message and code say what happened, so neither it nor its causes carry a stack into the log.
 * Anything else is a bug, and its stack is what makes it fixable.
 */
function walkError(error: Error, depth: number, seen: WeakSet<object>, stacks: boolean) {
  const withStack = stacks && !(error instanceof AppError);
  const out: Record<string, unknown> = { name: error.name, message: redactString(error.message) };
  // Own enumerable extras (code, status, errno, syscall ...) go through the same key rules.
  for (const [key, v] of Object.entries(error)) {
    if (key === 'message' || key === 'stack' || key === 'name') continue;
    out[key] = redactEntry(key, v, depth, seen);
  }
  if (withStack && typeof error.stack === 'string') out.stack = redactString(sourceMappedStack(error.stack));
  if (error.cause !== undefined) out.cause = walk(error.cause, depth + 1, seen, withStack);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
