// token-server's own counters, registered next to service-kit's HTTP metrics. Labels stay bounded:
// client names come from configuration, scopes only after the client's allow-list admitted them.
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS, type Protocol } from './constants.js';

export type DenialReason =
  | 'unauthenticated'
  | 'scope_not_allowed'
  | 'identity_mismatch'
  | 'bad_request'
  | 'query_too_long'
  | 'token_unavailable';

export interface TokenServerMetrics {
  issued(client: string, scope: string, protocol: Protocol): void;
  denied(client: string, reason: DenialReason, protocol: Protocol): void;
  cache(hit: boolean, scope: string): void;
}

export function createTokenServerMetrics(
  registry: Registry,
  providerCount: () => number,
): TokenServerMetrics {
  const issuances = new Counter({
    name: METRICS.issuances,
    help: 'Tokens handed out, by client, scope and protocol',
    labelNames: ['client', 'scope', 'protocol'] as const,
    registers: [registry],
  });
  const denials = new Counter({
    name: METRICS.denials,
    help: 'Token requests refused, by client (or "unknown"), reason and protocol',
    labelNames: ['client', 'reason', 'protocol'] as const,
    registers: [registry],
  });
  const hits = new Counter({
    name: METRICS.cacheHits,
    help: 'Token requests answered from memory without an IdP round trip',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const misses = new Counter({
    name: METRICS.cacheMisses,
    help: 'Token requests that waited for an IdP round trip',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  new Gauge({
    name: METRICS.providers,
    help: 'Scopes with a live token provider (bounded by TOKEN_SERVER_MAX_SCOPES plus warm scopes)',
    registers: [registry],
    collect() {
      this.set(providerCount());
    },
  });
  return {
    issued: (client, scope, protocol) => issuances.inc({ client, scope, protocol }),
    denied: (client, reason, protocol) => denials.inc({ client, reason, protocol }),
    cache: (hit, scope) => (hit ? hits : misses).inc({ scope }),
  };
}
