// The parts of one dev-entra instance the protocol actions work with (oidc-provider's `ctx.oidc`):
// its endpoints, directory, token claims, grant store, fault injection and request log.
import type { Claims } from './claims.js';
import type { Endpoints } from './endpoints.js';
import type { Faults } from './faults.js';
import type { GrantStore } from './grant-store.js';
import type { Registry } from './registry.js';
import type { RequestLog } from './request-log.js';

export interface Provider {
  readonly endpoints: Endpoints;
  readonly registry: Registry;
  readonly claims: Claims;
  readonly grants: GrantStore;
  readonly faults: Faults;
  readonly requestLog: RequestLog;
}
