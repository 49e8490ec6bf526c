import { BadRequestError } from '@auth-sidecars/service-kit';
import {
  effectiveIdentity,
  identityFromToken,
  requestedSelector,
  selectorMismatch,
} from '../src/identity.js';

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.sig`;
}

const CLIENT = '11111111-2222-3333-4444-555555555555';
const OID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

describe('identity selectors', () => {
  it('reads at most one selector', () => {
    expect(requestedSelector({ resource: 'x' })).toBeUndefined();
    expect(requestedSelector({ client_id: CLIENT })).toEqual({ param: 'client_id', value: CLIENT });
    expect(() => requestedSelector({ client_id: CLIENT, object_id: OID })).toThrow(BadRequestError);
    expect(() => requestedSelector({ mi_res_id: ['a', 'b'] })).toThrow(/once/);
  });

  it('learns client and object id from the token when not configured', () => {
    expect(identityFromToken(jwt({ appid: CLIENT, oid: OID }))).toEqual({
      clientId: CLIENT,
      objectId: OID,
      resourceId: undefined,
    });
    expect(identityFromToken(jwt({ azp: CLIENT }))).toMatchObject({ clientId: CLIENT });
    expect(identityFromToken('not-a-jwt')).toEqual({});
    expect(effectiveIdentity({ resourceId: '/subs/x' }, jwt({ appid: CLIENT }))).toEqual({
      clientId: CLIENT,
      objectId: undefined,
      resourceId: '/subs/x',
    });
  });

  it("takes the tenant from the token's tid (a GUID) before AZURE_TENANT_ID (maybe a domain)", () => {
    const tid = '22222222-2222-2222-2222-222222222222';
    expect(effectiveIdentity({ tenantId: 'contoso.onmicrosoft.com' }, jwt({ tid })).tenantId).toBe(tid);
    expect(effectiveIdentity({ tenantId: tid }, 'not-a-jwt').tenantId).toBe(tid);
    expect(
      selectorMismatch({ param: 'tenantId', value: tid.toUpperCase() }, { tenantId: tid }),
    ).toBeUndefined();
    expect(selectorMismatch({ param: 'tenantId', value: 'other' }, { tenantId: tid })).toMatch(
      /tenantId does not match/,
    );
  });

  it('matches case-insensitively and refuses a mismatch or an unverifiable selector', () => {
    const identity = { clientId: CLIENT, objectId: OID };
    expect(selectorMismatch({ param: 'client_id', value: CLIENT.toUpperCase() }, identity)).toBeUndefined();
    expect(selectorMismatch({ param: 'principal_id', value: OID }, identity)).toBeUndefined();
    expect(selectorMismatch({ param: 'client_id', value: OID }, identity)).toMatch(/does not match/);
    expect(selectorMismatch({ param: 'object_id', value: CLIENT }, identity)).toMatch(/does not match/);
    expect(selectorMismatch({ param: 'mi_res_id', value: '/subscriptions/x' }, identity)).toMatch(
      /cannot be verified/,
    );
    expect(selectorMismatch({ param: 'msi_res_id', value: '/s/x' }, { resourceId: '/S/X' })).toBeUndefined();
  });
});
