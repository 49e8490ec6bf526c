import { decide, type DecisionInput } from '../src/decision.js';
import type { SessionLookup } from '../src/session-index.js';

const owners: Record<string, SessionLookup> = {
  abc: { kind: 'owner', userId: 'alice' },
  def: { kind: 'owner', userId: 'bob' },
  dup: { kind: 'conflict', userIds: ['alice', 'mallory'] },
};
const calls: string[] = [];
const index = {
  lookup(id: string): SessionLookup {
    calls.push(id);
    return owners[id] ?? { kind: 'unknown' };
  },
};
const opts = { maxUriLength: 4096 };
const run = (
  input: Partial<DecisionInput>,
  options: { maxUriLength: number; authPathPrefix?: string } = opts,
) => decide({ requestTarget: '/', ...input }, index, options);

beforeEach(() => (calls.length = 0));

describe('decide', () => {
  it('allows per protocol: Traefik, nginx, Envoy, Referer fallback', () => {
    expect(run({ forwardedUri: ['/session/carta/abc/'] })).toEqual({
      result: 'allow',
      sessionId: 'abc',
      userId: 'alice',
      source: 'x-forwarded-uri',
    });
    expect(run({ originalUri: ['/session/carta/ws/abc/'] })).toMatchObject({
      result: 'allow',
      source: 'x-original-uri',
    });
    expect(run({ requestTarget: '/session/carta/http/abc/x' })).toMatchObject({
      result: 'allow',
      source: 'request-line',
    });
    expect(
      run({ forwardedUri: ['/static/app.js'], referer: ['https://h/session/carta/abc/'] }),
    ).toMatchObject({ result: 'allow', source: 'referer' });
  });

  it('lets the URI win over an agreeing Referer and refuses a disagreeing one', () => {
    expect(
      run({ forwardedUri: ['/session/carta/abc/'], referer: ['https://h/session/carta/abc/'] }),
    ).toMatchObject({ result: 'allow', source: 'x-forwarded-uri' });
    expect(
      run({ forwardedUri: ['/session/carta/abc/'], referer: ['https://h/session/carta/def/'] }),
    ).toMatchObject({ result: 'deny', reason: 'conflicting_session_ids' });
    expect(
      run({ forwardedUri: ['/session/carta/abc/'], originalUri: ['/session/carta/def/'] }),
    ).toMatchObject({ result: 'deny', reason: 'conflicting_session_ids' });
    expect(
      run({ requestTarget: '/session/carta/def/', forwardedUri: ['/session/carta/abc/'] }),
    ).toMatchObject({ result: 'deny', reason: 'conflicting_session_ids' });
    expect(calls).toEqual(['abc']);
  });

  it('refuses duplicated headers and invalid claims without a lookup', () => {
    expect(run({ forwardedUri: ['/session/carta/abc/', '/session/carta/abc/'] })).toEqual({
      result: 'deny',
      reason: 'duplicate_header',
    });
    expect(run({ referer: ['https://h/session/carta/abc/', 'https://h/'] })).toEqual({
      result: 'deny',
      reason: 'duplicate_header',
    });
    expect(run({ forwardedUri: ['/session/carta/ws/'] })).toMatchObject({
      result: 'deny',
      reason: 'invalid_session_id',
    });
    expect(
      run({ forwardedUri: ['/session/carta/abc/'], referer: ['https://h/session/carta/abc/../def'] }),
    ).toMatchObject({ result: 'deny', reason: 'non_canonical_path' });
    expect(
      run({ forwardedUri: [`/session/carta/abc/${'x'.repeat(200)}`] }, { maxUriLength: 100 }),
    ).toMatchObject({ result: 'deny', reason: 'uri_too_long' });
    expect(run({})).toEqual({ result: 'deny', reason: 'no_session' });
    expect(calls).toEqual([]);
  });

  it('maps lookups: unknown, conflicting owners, unavailable', () => {
    expect(run({ forwardedUri: ['/session/carta/zzz/'] })).toMatchObject({
      result: 'deny',
      reason: 'unknown_session',
      sessionId: 'zzz',
    });
    expect(run({ forwardedUri: ['/session/carta/dup/'] })).toMatchObject({
      result: 'deny',
      reason: 'conflicting_owners',
    });
    const down = { lookup: (): SessionLookup => ({ kind: 'unavailable' }) };
    expect(decide({ requestTarget: '/session/carta/abc/' }, down, opts)).toMatchObject({
      result: 'unavailable',
      sessionId: 'abc',
    });
  });

  it('strips the Envoy path prefix from the request line only', () => {
    const withPrefix = { maxUriLength: 4096, authPathPrefix: '/authz' };
    expect(run({ requestTarget: '/authz/session/carta/abc/' }, withPrefix)).toMatchObject({
      result: 'allow',
    });
    expect(run({ requestTarget: '/authzsession/carta/abc/' }, withPrefix)).toEqual({
      result: 'deny',
      reason: 'no_session',
    });
    expect(run({ requestTarget: '/authz' }, withPrefix)).toEqual({ result: 'deny', reason: 'no_session' });
  });
});
