// Where this dev-entra answers: its URL (known once it listens), the tenant and the URLs derived
// from them, and the two tenant checks (a request's `{tenant}` segment, a client assertion's audience).
import { AUDIENCE_TENANT_ALIASES, TENANT_ALIASES } from './constants.js';
import { errors } from './errors.js';

export class Endpoints {
  readonly tenantId: string;
  readonly host: string;
  #port = 0;
  #url = '';

  constructor(tenantId: string, host: string) {
    this.tenantId = tenantId;
    this.host = host;
  }

  /** Called once listening (again after a `refuse` outage, on the same port). */
  listeningOn(port: number): void {
    this.#port = port;
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.#url = `https://${host}:${port}`;
  }

  get url(): string {
    return this.#url;
  }
  get port(): number {
    return this.#port;
  }
  get authority(): string {
    return `${this.#url}/${this.tenantId}`;
  }
  get issuer(): string {
    return `${this.#url}/${this.tenantId}/v2.0`;
  }
  get tokenEndpoint(): string {
    return `${this.#url}/${this.tenantId}/oauth2/v2.0/token`;
  }
  get jwksUri(): string {
    return `${this.#url}/${this.tenantId}/discovery/v2.0/keys`;
  }
  get kubernetesIssuer(): string {
    return `${this.#url}/_kubernetes`;
  }

  /** The tenant id when `tenant` (a path segment) names this tenant, else Entra's tenant-not-found error. */
  tenant(tenant: string): string {
    const name = tenant.toLowerCase();
    if (name === this.tenantId.toLowerCase() || TENANT_ALIASES.includes(name)) return this.tenantId;
    throw errors.tenantNotFound(tenant);
  }

  /** Client assertion audiences accepted: the token endpoint (any accepted tenant alias) or the issuer. */
  isOwnAudience(aud: string): boolean {
    try {
      const url = new URL(aud);
      if (url.protocol !== 'https:' || Number(url.port) !== this.#port) return false;
      if (!['127.0.0.1', 'localhost', '[::1]', this.host].includes(url.hostname)) return false;
      const match = /^\/([^/]+)\/(oauth2\/v2\.0\/token|v2\.0)\/?$/.exec(url.pathname);
      if (!match?.[1]) return false;
      const tenant = match[1].toLowerCase();
      return tenant === this.tenantId.toLowerCase() || AUDIENCE_TENANT_ALIASES.includes(tenant);
    } catch {
      return false;
    }
  }
}
