// The identity the server holds, and the check of the managed-identity protocols' identity
// selectors (client_id, object_id, principal_id, mi_res_id, msi_res_id): an app that asks for a
// specific identity gets that identity's token or a clear 400, never another identity's token.
import { BadRequestError } from '@auth-sidecars/service-kit';
import { QUERY, SELECTOR_PARAMS } from './constants.js';

export interface ServerIdentity {
  clientId?: string | undefined;
  objectId?: string | undefined;
  resourceId?: string | undefined;
  tenantId?: string | undefined;
}

/** azd's protocol names a tenant (`tenantId` in its body) the way the managed-identity ones name an identity. */
export const TENANT_SELECTOR = 'tenantId';

export interface Selector {
  param: (typeof SELECTOR_PARAMS)[number] | typeof TENANT_SELECTOR;
  value: string;
}

/** The one selector in the query, if any; more than one, or a repeated one, is a 400. */
export function requestedSelector(query: Record<string, unknown>): Selector | undefined {
  const present = SELECTOR_PARAMS.filter((param) => query[param] !== undefined && query[param] !== '');
  if (present.length === 0) return undefined;
  if (present.length > 1)
    throw new BadRequestError(`only one of ${SELECTOR_PARAMS.join(', ')} may be given`, 'invalid_request');
  const param = present[0]!;
  const value = query[param];
  if (typeof value !== 'string' || value.length > 512)
    throw new BadRequestError(`${param} must be given once`, 'invalid_request');
  return { param, value };
}

/** What the access token itself says about its identity (unverified decode: it came from our IdP). */
export function identityFromToken(accessToken: string): ServerIdentity {
  const payload = accessToken.split('.')[1];
  if (!payload) return {};
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    return {
      clientId: str(claims.appid) ?? str(claims.azp),
      objectId: str(claims.oid),
      resourceId: str(claims.xms_mirid),
      tenantId: str(claims.tid),
    };
  } catch {
    return {};
  }
}

/**
 * Configured values win; the token's claims fill the gaps. The tenant is the other way round: the
 * token's `tid` is a GUID, while AZURE_TENANT_ID may be a domain name.
 */
export function effectiveIdentity(configured: ServerIdentity, accessToken: string): ServerIdentity {
  const fromToken = identityFromToken(accessToken);
  return {
    clientId: configured.clientId ?? fromToken.clientId,
    objectId: configured.objectId ?? fromToken.objectId,
    resourceId: configured.resourceId ?? fromToken.resourceId,
    tenantId: fromToken.tenantId ?? configured.tenantId,
  };
}

/** Why the token of `identity` must not be handed to a caller that selected `selector`, or undefined. */
export function selectorMismatch(selector: Selector, identity: ServerIdentity): string | undefined {
  const expected =
    selector.param === QUERY.clientId
      ? identity.clientId
      : selector.param === QUERY.objectId || selector.param === QUERY.principalId
        ? identity.objectId
        : selector.param === TENANT_SELECTOR
          ? identity.tenantId
          : identity.resourceId;
  if (expected === undefined) {
    return `${selector.param} cannot be verified: this token-server does not know its identity's ${selector.param.replace('_', ' ')}`;
  }
  if (expected.toLowerCase() !== selector.value.toLowerCase()) {
    return `${selector.param} does not match the identity this token-server holds`;
  }
  return undefined;
}
