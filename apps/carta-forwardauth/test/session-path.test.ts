import { pathRules, sessionFromPath, sessionFromReferer, underPrefix } from '../src/session-path.js';

const MAX = pathRules(4096);

describe('sessionFromPath', () => {
  it.each([
    ['/session/carta/abc123/', 'abc123'],
    ['/session/carta/abc123', 'abc123'],
    ['/session/carta/abc123/index.html?x=/session/carta/other/', 'abc123'],
    ['/session/carta/http/abc123/', 'abc123'],
    ['/session/carta/ws/abc123/', 'abc123'],
    ['/session/carta/ws/abc123', 'abc123'],
    ['/session/carta/%61bc123/', 'abc123'],
    ['/session/carta/0/', '0'],
    [`/session/carta/${'a'.repeat(63)}/`, 'a'.repeat(63)],
  ])('%s -> %s', (path, id) => {
    expect(sessionFromPath(path, MAX)).toEqual({ kind: 'session', id });
  });

  it.each([
    ['/', '/'],
    ['/auth', '/auth'],
    ['/favicon.ico?v=1', '/favicon.ico'],
    ['/session/notebook/abc/', '/session/notebook/abc/'],
    ['/session/cartax/abc/', '/session/cartax/abc/'],
    ['/static/%61pp.js', '/static/app.js'],
  ])('%s carries no session (path %s)', (target, path) => {
    expect(sessionFromPath(target, MAX)).toEqual({ kind: 'none', path });
  });

  it.each([
    ['/session/carta/', 'invalid_session_id'],
    ['/session/carta', 'invalid_session_id'],
    ['/session/carta/http/', 'invalid_session_id'],
    ['/session/carta/ws', 'invalid_session_id'],
    ['/session/carta/http/ws/', 'invalid_session_id'],
    ['/session/carta/Abc/', 'invalid_session_id'],
    ['/session/carta/ab_c/', 'invalid_session_id'],
    ['/session/carta/ab.c/', 'invalid_session_id'],
    [`/session/carta/${'a'.repeat(64)}/`, 'invalid_session_id'],
    ['/session/carta/abc/../def/', 'non_canonical_path'],
    ['/session/carta/abc/./x', 'non_canonical_path'],
    ['/session/carta/abc/..', 'non_canonical_path'],
    ['/session/carta/abc/%2E%2E/def/', 'non_canonical_path'],
    ['/session/carta/abc%2fdef/', 'non_canonical_path'],
    ['/session/carta/abc%5cdef/', 'non_canonical_path'],
    ['/session/carta/%2561bc/', 'non_canonical_path'],
    ['/session/carta/abc/%zz', 'non_canonical_path'],
    ['/session/carta/abc/%00', 'non_canonical_path'],
    ['/session//carta/abc/', 'non_canonical_path'],
    ['//session/carta/abc/', 'non_canonical_path'],
    ['/Session/Carta/abc/', 'non_canonical_path'],
    ['/session/carta/abc\\def', 'non_canonical_path'],
    ['/session/carta/abc def', 'non_canonical_path'],
    ['/session/%63arta/abc/', 'session'],
    // The seed took `/session/carta/<id>` anywhere in the URI; only configured prefixes count here.
    ['/x/session/carta/abc123/', 'unlisted_path_prefix'],
    ['/admin/session/carta/abc/', 'unlisted_path_prefix'],
    ['/skaha/session/carta', 'unlisted_path_prefix'],
  ])('%s -> %s', (path, reason) => {
    const r = sessionFromPath(path, MAX);
    if (reason === 'session') expect(r).toEqual({ kind: 'session', id: 'abc' });
    else expect(r).toEqual({ kind: 'invalid', reason });
  });

  it('refuses URIs above the length limit before parsing them', () => {
    expect(sessionFromPath(`/session/carta/abc/${'x'.repeat(100)}`, pathRules(64))).toEqual({
      kind: 'invalid',
      reason: 'uri_too_long',
    });
  });
});

describe('sessionFromReferer', () => {
  it('reads the path of an absolute URL', () => {
    expect(sessionFromReferer('https://carta.example.org/session/carta/abc/?a=1', MAX)).toEqual({
      kind: 'session',
      id: 'abc',
    });
    expect(sessionFromReferer('https://carta.example.org:8443/session/carta/ws/abc/', MAX)).toEqual({
      kind: 'session',
      id: 'abc',
    });
    expect(sessionFromReferer('HTTP://carta.example.org/session/carta/abc/', MAX)).toMatchObject({
      kind: 'session',
    });
    expect(sessionFromReferer('https://carta.example.org', MAX)).toMatchObject({ kind: 'none' });
    expect(sessionFromReferer('https://carta.example.org?x=/session/carta/abc/', MAX)).toMatchObject({
      kind: 'none',
    });
    expect(sessionFromReferer('about:blank', MAX)).toMatchObject({ kind: 'none' });
  });

  it.each([
    ['a bare path', '/session/carta/abc/'],
    ['javascript:', 'javascript://x/session/carta/abc/'],
    ['another scheme', 'ftp://h/session/carta/abc/'],
    ['data:', 'data:text/html,/session/carta/abc/'],
    ['scheme-relative', '//h/session/carta/abc/'],
    ['a scheme prefix', 'xhttps://h/session/carta/abc/'],
  ])('names no session in anything but an http(s) URL: %s', (_case, referer) => {
    expect(sessionFromReferer(referer, MAX)).toMatchObject({ kind: 'none' });
  });

  it('applies the same strictness as to URIs', () => {
    expect(sessionFromReferer('https://h/session/carta/abc/../def/', MAX)).toEqual({
      kind: 'invalid',
      reason: 'non_canonical_path',
    });
    expect(sessionFromReferer('https://h/session/carta/ABC/', MAX)).toEqual({
      kind: 'invalid',
      reason: 'invalid_session_id',
    });
  });
});

describe('ingress path prefixes (SESSION_PATH_PREFIXES)', () => {
  const skaha = pathRules(4096, ['/skaha']);
  const both = pathRules(4096, ['/', '/skaha/v2']);

  it.each([
    [skaha, '/skaha/session/carta/abc/', { kind: 'session', id: 'abc' }],
    [skaha, '/skaha/session/carta/ws/abc/socket', { kind: 'session', id: 'abc' }],
    [skaha, '/skaha/session/carta/http/abc/', { kind: 'session', id: 'abc' }],
    [skaha, '/skaha/session/carta/', { kind: 'invalid', reason: 'invalid_session_id' }],
    [skaha, '/skaha/session/carta', { kind: 'invalid', reason: 'invalid_session_id' }],
    [skaha, '/Skaha/session/carta/abc/', { kind: 'invalid', reason: 'non_canonical_path' }],
    [skaha, '/skaha/../session/carta/abc/', { kind: 'invalid', reason: 'non_canonical_path' }],
    [skaha, '/skaha//session/carta/abc/', { kind: 'invalid', reason: 'non_canonical_path' }],
    // only the listed prefixes: not the root, not another prefix, not a longer one
    [skaha, '/session/carta/abc/', { kind: 'invalid', reason: 'unlisted_path_prefix' }],
    [skaha, '/skahax/session/carta/abc/', { kind: 'invalid', reason: 'unlisted_path_prefix' }],
    [skaha, '/skaha/x/session/carta/abc/', { kind: 'invalid', reason: 'unlisted_path_prefix' }],
    [skaha, '/skaha/static/app.js', { kind: 'none', path: '/skaha/static/app.js' }],
    [both, '/session/carta/abc/', { kind: 'session', id: 'abc' }],
    [both, '/skaha/v2/session/carta/abc/', { kind: 'session', id: 'abc' }],
    [both, '/skaha/session/carta/abc/', { kind: 'invalid', reason: 'unlisted_path_prefix' }],
  ])('%#: %s', (rules, path, expected) => {
    expect(sessionFromPath(path, rules)).toEqual(expected);
    expect(sessionFromReferer(`https://carta.example.org${path}`, rules)).toEqual(expected);
  });
});

describe('underPrefix (Referer fallback asset paths)', () => {
  it.each([
    ['/static/app.js', true],
    ['/static/', true],
    ['/static', false],
    ['/staticx/app.js', false],
    ['/favicon.ico', true],
    ['/favicon.ico/x', true],
    ['/favicon.icox', false],
    ['/admin/secret', false],
  ])('%s -> %s', (path, expected) => {
    expect(underPrefix(path, ['/static/', '/favicon.ico'])).toBe(expected);
  });
});
