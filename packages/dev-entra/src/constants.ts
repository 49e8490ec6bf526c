// dev-entra's names and fixed values: the default tenant, the demo directory, the OAuth constants
// and lifetimes the protocol modules share.
import type { DemoUser } from './model.js';

export const DEFAULT_TENANT_ID = 'c0ffee00-0000-4000-8000-000000000001';
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'offline_access', 'email']);
export const CODE_LIFETIME_MS = 10 * 60 * 1000;
export const TX_LIFETIME_MS = 30 * 60 * 1000;
/** The client id `issueAccessToken` mints for when it is given none. */
export const DEFAULT_TEST_CLIENT_ID = '00000000-0000-4000-8000-00000000c11e';

/** Tenant names the endpoints accept besides the tenant id (case-insensitive). */
export const TENANT_ALIASES: readonly string[] = [
  'common',
  'organizations',
  'contoso.test',
  'contoso.onmicrosoft.com',
];
/** Tenant names a client assertion's audience may carry besides the tenant id. */
export const AUDIENCE_TENANT_ALIASES: readonly string[] = ['common', 'organizations', 'contoso.test'];

export const DEMO_GROUPS = {
  platformAdmins: '9a000000-0000-4000-8000-0000000000a1',
  developers: '9a000000-0000-4000-8000-0000000000a2',
} as const;

export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  {
    oid: 'a11ce000-0000-4000-8000-000000000001',
    upn: 'alice@contoso.test',
    name: 'Alice Anders',
    groups: [DEMO_GROUPS.platformAdmins, DEMO_GROUPS.developers],
  },
  {
    oid: 'b0b00000-0000-4000-8000-000000000002',
    upn: 'bob@contoso.test',
    name: 'Bob Baker',
    groups: [DEMO_GROUPS.developers],
  },
  {
    oid: 'ca401000-0000-4000-8000-000000000003',
    upn: 'carol@contoso.test',
    name: 'Carol Chen',
    groups: [],
  },
]);
