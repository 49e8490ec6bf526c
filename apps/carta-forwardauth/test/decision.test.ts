import { decide, type DecisionInput, type DecisionOptions } from '../src/decision.js';
import { pathRules } from '../src/session-path.js';
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
const opts: DecisionOptions = { rules: pathRules(4096) };
/** The Referer fallback switched on for static assets. */
const withReferer: DecisionOptions = { ...opts, refererAssetPrefixes: ['/static/', '/favicon.ico'] };
const run = (input: Partial<DecisionInput>, options: DecisionOptions = withReferer) =>
  decide({ requestTarget: '/', ...input }, index, options);

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
    // one URI header naming no session, a second one (the client's) naming one
    for (const [forwardedUri, originalUri] of [
      ['/admin/', '/session/carta/abc/'],
      ['/session/carta/abc/', '/static/app.js'],
    ])
      expect(run({ forwardedUri: [forwardedUri!], originalUri: [originalUri!] })).toMatchObject({
        result: 'deny',
        reason: 'conflicting_session_ids',
      });
    expect(run({ forwardedUri: ['/a'], originalUri: ['/b'] })).toEqual({
      result: 'deny',
      reason: 'no_session',
    });
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
      run({ forwardedUri: [`/session/carta/abc/${'x'.repeat(200)}`] }, { rules: pathRules(100) }),
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
    const withPrefix = { ...opts, authPathPrefix: '/authz' };
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

describe('the Referer fallback', () => {
  const referer = ['https://carta.example.org/session/carta/abc/'];

  it('is off by default: the Referer is not read at all', () => {
    for (const forwardedUri of [['/static/app.js'], ['/admin/secret'], ['/']])
      expect(run({ forwardedUri, referer }, opts)).toEqual({ result: 'deny', reason: 'no_session' });
    // not even to refuse a disagreeing or duplicated one: the URI alone decides
    expect(
      run({ forwardedUri: ['/session/carta/abc/'], referer: ['https://h/session/carta/def/', 'x'] }, opts),
    ).toMatchObject({ result: 'allow', userId: 'alice' });
    expect(calls).toEqual(['abc']);
  });

  it('lends a session only to a URI under the asset prefixes', () => {
    expect(run({ forwardedUri: ['/static/js/main.js?v=2'], referer })).toMatchObject({
      result: 'allow',
      userId: 'alice',
      source: 'referer',
    });
    expect(run({ originalUri: ['/favicon.ico'], referer })).toMatchObject({ result: 'allow' });
    expect(run({ requestTarget: '/static/x.css', referer })).toMatchObject({ result: 'allow' });
    for (const uri of ['/admin/secret', '/', '/staticx/a.js', '/static', '/api/files'])
      expect(run({ forwardedUri: [uri], referer })).toEqual({ result: 'deny', reason: 'no_session' });
    // The request line of a Traefik check (its address) is not the URI when X-Forwarded-Uri is there.
    expect(run({ requestTarget: '/static/', forwardedUri: ['/admin/'], referer })).toEqual({
      result: 'deny',
      reason: 'no_session',
    });
    expect(calls).toEqual(['abc', 'abc', 'abc']);
  });

  it('reads only absolute http(s) URLs', () => {
    for (const r of [
      '/session/carta/abc/',
      'javascript://carta.example.org/session/carta/abc/',
      'file:///session/carta/abc/',
    ])
      expect(run({ forwardedUri: ['/static/app.js'], referer: [r] })).toEqual({
        result: 'deny',
        reason: 'no_session',
      });
    expect(calls).toEqual([]);
  });
});
