// The decision every protocol shares: who is asking (secret -> client), may they have this scope
// (allow-list), is it the identity they selected, and the token itself. Each decision is
// audit-logged (client, scope, expiry, reason; never a token or secret) and counted.
import type { AccessToken } from '@azure/core-auth';
import { AuthError, BadRequestError, ForbiddenError, type AppError } from '@auth-sidecars/service-kit';
import type { Protocol } from './constants.js';
import { effectiveIdentity, selectorMismatch, type Selector, type ServerIdentity } from './identity.js';
import type { DenialReason, TokenServerMetrics } from './metrics.js';
import type { Client, Policy } from './policy.js';
import { canonicalScope } from './scope.js';
import type { IssuedToken } from './tokens.js';

export interface AuditLogger {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface IssuerDeps {
  policy: () => Policy;
  tokens: { get(scope: string): Promise<IssuedToken>; cached?(scope: string): IssuedToken | undefined };
  metrics: TokenServerMetrics;
  audit: AuditLogger;
  identity: ServerIdentity;
}

export interface Issued {
  token: AccessToken;
  /** The identity behind the token (configured values, else the token's claims); decoded on first use. */
  identity(): ServerIdentity;
}

export interface RequestContext {
  protocol: Protocol;
  remoteAddress?: string | undefined;
  requestId?: string | undefined;
}

export class Issuer {
  constructor(private readonly deps: IssuerDeps) {}

  /** The client owning `secret`; otherwise a 401 without detail (and an audit line). */
  authenticate(secret: string | undefined, ctx: RequestContext): Client {
    const client = this.deps.policy().authenticate(secret);
    if (!client) {
      this.deny(undefined, undefined, 'unauthenticated', secret ? 'wrong secret' : 'no secret', ctx);
      throw new AuthError('authentication required', 'unauthorized', { 'www-authenticate': 'Bearer' });
    }
    return client;
  }

  /** Records a request refused before it reached a client decision (bad syntax, oversized). */
  reject(err: AppError, reason: DenialReason, ctx: RequestContext, client?: Client): never {
    this.deny(client, undefined, reason, err.message, ctx);
    throw err;
  }

  /**
   * `requested` is made canonical first (see scope.ts): the allow-list, the provider cache, the IdP,
   * the audit line and the metrics all see one spelling per resource.
   */
  async issue(client: Client, requested: string, ctx: RequestContext, selector?: Selector): Promise<Issued> {
    const scope = canonicalScope(requested);
    if (!this.deps.policy().allows(client, scope)) {
      this.deny(client, scope, 'scope_not_allowed', 'scope not in the client allow-list', ctx);
      throw new ForbiddenError('scope not allowed for this client', 'scope_not_allowed');
    }
    let issued: IssuedToken;
    try {
      issued = this.deps.tokens.cached?.(scope) ?? (await this.deps.tokens.get(scope));
    } catch (err) {
      this.deny(client, scope, 'token_unavailable', reasonOf(err), ctx);
      throw err;
    }
    this.deps.metrics.cache(issued.cacheHit, scope);
    const identity = () => this.identityOf(issued.token.token);
    if (selector) {
      const problem = selectorMismatch(selector, identity());
      if (problem) {
        this.deny(client, scope, 'identity_mismatch', problem, ctx);
        throw new BadRequestError(problem, 'identity_mismatch');
      }
    }
    this.deps.metrics.issued(client.name, scope, ctx.protocol);
    this.deps.audit.info('token issued', {
      audit: 'issued',
      client: client.name,
      scope,
      protocol: ctx.protocol,
      expiresOn: this.expiryOf(issued.token.expiresOnTimestamp),
      cacheHit: issued.cacheHit,
      remoteAddress: ctx.remoteAddress,
      requestId: ctx.requestId,
    });
    return { token: issued.token, identity };
  }

  // Decoding the JWT on every request would cost more than the rest of the hot path: remember the
  // answer for the last token seen (tokens change once per refresh).
  private lastIdentity: { token: string; identity: ServerIdentity } | undefined;

  private identityOf(token: string): ServerIdentity {
    if (this.lastIdentity?.token !== token)
      this.lastIdentity = { token, identity: effectiveIdentity(this.deps.identity, token) };
    return this.lastIdentity.identity;
  }

  private lastExpiry = { timestamp: NaN, iso: '' };

  private expiryOf(timestamp: number): string {
    if (this.lastExpiry.timestamp !== timestamp)
      this.lastExpiry = { timestamp, iso: new Date(timestamp).toISOString() };
    return this.lastExpiry.iso;
  }

  private deny(
    client: Client | undefined,
    scope: string | undefined,
    reason: DenialReason,
    detail: string,
    ctx: RequestContext,
  ): void {
    const name = client?.name ?? 'unknown';
    this.deps.metrics.denied(name, reason, ctx.protocol);
    this.deps.audit.warn('token denied', {
      audit: 'denied',
      client: name,
      scope,
      reason,
      detail,
      protocol: ctx.protocol,
      remoteAddress: ctx.remoteAddress,
      requestId: ctx.requestId,
    });
  }
}

/** The operator-facing reason: the error and its cause (auth-core's reasons never carry a secret). */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return 'token unavailable';
  const cause =
    err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
