// Per-client policy: who may ask (several secrets per client, so a rotation can keep two valid at
// once) and for what (an allow-list of scopes/resources). Loaded from the single-secret seed
// variables and/or a clients JSON document; files are re-read by PolicyStore to pick up rotations.
import { readFileSync } from 'node:fs';
import { ConfigError } from '@auth-sidecars/service-kit';
import { z } from 'zod';
import { DEFAULT_CLIENT_NAME, ENV } from './constants.js';
import { canonicalResource, resourceParts, scopeToResource } from './scope.js';
import { digestSecret, findSecret, type SecretDigest } from './secret.js';

export const MIN_SECRET_LENGTH = 16;

export interface PolicySources {
  /** AZD_AUTH_SECRET: the seed's single shared secret, for the client named `default`. */
  secret?: string | undefined;
  /** AZD_AUTH_SECRET_FILE: one secret per non-empty line. */
  secretFile?: string | undefined;
  /** Allow-list of the `default` client. */
  allowedScopes: readonly string[];
  /** TOKEN_SERVER_CLIENTS: JSON text. */
  clientsJson?: string | undefined;
  /** TOKEN_SERVER_CLIENTS_FILE: path of a JSON file. */
  clientsFile?: string | undefined;
}

export interface Client {
  readonly name: string;
  /** Allow-list as written in the configuration (for logs and /readyz details). */
  readonly scopes: readonly string[];
  readonly secretCount: number;
}

const clientSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash, underscore; at most 64'),
    secrets: z.array(z.string()).default([]),
    secretFiles: z.array(z.string().min(1)).default([]),
    scopes: z.array(z.string().min(1)).min(1, 'at least one scope or "*"'),
  })
  .strict();

const documentSchema = z.union([
  z.array(clientSchema),
  z.object({ clients: z.array(clientSchema) }).strict(),
]);

type ClientSpec = z.output<typeof clientSchema>;

interface CompiledClient extends Client {
  readonly matchers: readonly ((resource: string) => boolean)[];
}

export class Policy {
  readonly clients: readonly Client[];
  private readonly byName: Map<string, CompiledClient>;
  private readonly digests: SecretDigest[];
  private readonly owners: CompiledClient[];
  /** Changes whenever a secret or an allow-list changes; lets the store log reloads honestly. */
  readonly fingerprint: string;

  constructor(clients: Array<{ name: string; secrets: string[]; scopes: string[] }>) {
    this.byName = new Map();
    this.digests = [];
    this.owners = [];
    for (const spec of clients) {
      const compiled: CompiledClient = {
        name: spec.name,
        scopes: [...spec.scopes],
        secretCount: spec.secrets.length,
        matchers: spec.scopes.map(compilePattern),
      };
      this.byName.set(spec.name, compiled);
      for (const secret of spec.secrets) {
        this.digests.push(digestSecret(secret));
        this.owners.push(compiled);
      }
    }
    this.clients = [...this.byName.values()].map(({ name, scopes, secretCount }) => ({
      name,
      scopes,
      secretCount,
    }));
    const material = JSON.stringify(
      clients.map((c) => [c.name, c.scopes, c.secrets.map((s) => digestSecret(s).toString('hex'))]),
    );
    this.fingerprint = digestSecret(material).toString('hex').slice(0, 16);
  }

  /** The client owning `secret`, or undefined. Constant time over all configured secrets. */
  authenticate(secret: string | undefined): Client | undefined {
    if (!secret) return undefined;
    const index = findSecret(secret, this.digests);
    return index === -1 ? undefined : this.owners[index];
  }

  client(name: string): Client | undefined {
    return this.byName.get(name);
  }

  /**
   * Whether `client` may have tokens for `scope` (a scope or a resource; compared as a canonical
   * resource, see scope.ts, the spelling the provider cache and the IdP get too).
   */
  allows(client: Client, scope: string): boolean {
    const compiled = this.byName.get(client.name);
    if (!compiled) return false;
    const resource = canonicalResource(scopeToResource(scope));
    return compiled.matchers.some((match) => match(resource));
  }
}

/** One DNS label, as a `*` in a pattern's host may stand for it. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const WILDCARD_RULE = '"*" may only stand for a whole label of the host, as in https://*.vault.azure.net';

/** Why an allow-list entry is not usable, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  const resource = canonicalResource(scopeToResource(pattern.trim()));
  if (resource === '') return 'names no resource';
  if (resource === '*' || !resource.includes('*')) return undefined;
  const parts = resourceParts(resource);
  if (!parts || parts.scheme.includes('*') || parts.path.includes('*')) return WILDCARD_RULE;
  const colon = parts.authority.lastIndexOf(':');
  const host = colon === -1 ? parts.authority : parts.authority.slice(0, colon);
  const port = colon === -1 ? '' : parts.authority.slice(colon + 1);
  if (port.includes('*') || host.split('.').some((label) => label.includes('*') && label !== '*'))
    return WILDCARD_RULE;
  return undefined;
}

/**
 * `"*"` alone allows everything. Otherwise a pattern is a canonical resource in which a host label
 * may be `*`, matching exactly one DNS label there: `https://*.vault.azure.net` allows
 * `https://myvault.vault.azure.net`, not `https://a.b.vault.azure.net` nor
 * `https://evil.example/x.vault.azure.net`. Scheme, port and path must be equal.
 */
function compilePattern(pattern: string): (resource: string) => boolean {
  const canonical = canonicalResource(scopeToResource(pattern.trim()));
  if (canonical === '*') return () => true;
  if (!canonical.includes('*')) return (resource) => resource === canonical;
  const want = resourceParts(canonical);
  if (!want) return () => false; // refused by patternProblem when loaded from configuration
  const wantLabels = want.authority.split('.');
  return (resource) => {
    const got = resourceParts(resource);
    if (!got || got.scheme !== want.scheme || got.path !== want.path) return false;
    const labels = got.authority.split('.');
    if (labels.length !== wantLabels.length) return false;
    return wantLabels.every((w, i) => {
      const label = labels[i]!;
      // The last label carries the port, if any; patternProblem keeps `*` out of it.
      return w === '*' ? DNS_LABEL.test(label) : w === label;
    });
  };
}

/** Non-empty trimmed lines of a secret file: one secret per line, so one Secret can carry old and new. */
function readSecretLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Reads every source, validates all of it and reports every problem at once (ConfigError). */
export function loadPolicy(sources: PolicySources): Policy {
  const issues: string[] = [];
  const clients: Array<{ name: string; secrets: string[]; scopes: string[] }> = [];
  const tryRead = (label: string, read: () => string[]): string[] => {
    try {
      return read();
    } catch (err) {
      issues.push(`${label}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return [];
    }
  };

  const defaultSecrets: string[] = [];
  if (sources.secret) defaultSecrets.push(sources.secret.trim());
  if (sources.secretFile)
    defaultSecrets.push(...tryRead(ENV.secretFile, () => readSecretLines(sources.secretFile!)));
  if (sources.secret || sources.secretFile) {
    if (defaultSecrets.length === 0 && issues.length === 0)
      issues.push(`${ENV.secretFile}: file holds no secret`);
    clients.push({ name: DEFAULT_CLIENT_NAME, secrets: defaultSecrets, scopes: [...sources.allowedScopes] });
  }

  const documents: Array<{ label: string; text: string }> = [];
  if (sources.clientsJson) documents.push({ label: ENV.clients, text: sources.clientsJson });
  if (sources.clientsFile) {
    const text = tryRead(ENV.clientsFile, () => [readFileSync(sources.clientsFile!, 'utf8')])[0];
    if (text !== undefined) documents.push({ label: ENV.clientsFile, text });
  }
  for (const { label, text } of documents) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      issues.push(`${label}: not valid JSON`);
      continue;
    }
    const parsed = documentSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        issues.push(`${label}: ${issue.path.join('.') || 'document'}: ${issue.message}`);
      continue;
    }
    const specs: ClientSpec[] = Array.isArray(parsed.data) ? parsed.data : parsed.data.clients;
    for (const spec of specs) {
      const secrets = [...spec.secrets.map((s) => s.trim())];
      for (const file of spec.secretFiles)
        secrets.push(...tryRead(`${label}: client ${spec.name}: ${file}`, () => readSecretLines(file)));
      clients.push({ name: spec.name, secrets, scopes: spec.scopes });
    }
  }

  if (clients.length === 0) {
    issues.push(
      `no client configured: set ${ENV.secret}, ${ENV.secretFile}, ${ENV.clients} or ${ENV.clientsFile}`,
    );
  }
  const names = new Set<string>();
  const seen = new Map<string, string>();
  for (const client of clients) {
    if (names.has(client.name)) issues.push(`client ${client.name}: defined twice`);
    names.add(client.name);
    for (const pattern of client.scopes) {
      const problem = patternProblem(pattern);
      if (problem) issues.push(`client ${client.name}: scope ${JSON.stringify(pattern)}: ${problem}`);
    }
    if (client.secrets.length === 0) issues.push(`client ${client.name}: no secret`);
    for (const secret of client.secrets) {
      // Never echo a secret in an error; name the client only.
      if (secret.length < MIN_SECRET_LENGTH)
        issues.push(`client ${client.name}: a secret is shorter than ${MIN_SECRET_LENGTH} characters`);
      const key = digestSecret(secret).toString('hex');
      const owner = seen.get(key);
      if (owner !== undefined && owner !== client.name)
        issues.push(`client ${client.name}: shares a secret with client ${owner}`);
      seen.set(key, client.name);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return new Policy(clients);
}

/**
 * Holds the current Policy and re-reads the sources on demand; a broken reload keeps the old
 * policy in force (a half-written Secret must not lock every client out).
 */
export class PolicyStore {
  private policy: Policy;

  constructor(private readonly sources: PolicySources) {
    this.policy = loadPolicy(sources);
  }

  get current(): Policy {
    return this.policy;
  }

  /** Returns whether the policy changed; throws the ConfigError of a bad reload (old policy kept). */
  reload(): boolean {
    const next = loadPolicy(this.sources);
    if (next.fingerprint === this.policy.fingerprint) return false;
    this.policy = next;
    return true;
  }
}
