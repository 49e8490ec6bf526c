import { sessionFromPath, sessionFromReferer } from '../src/session-path.js';

const MAX = 4096;

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
    '/',
    '/auth',
    '/favicon.ico',
    '/session/notebook/abc/',
    '/x/session/carta/abc123/',
    '/session/cartax/abc/',
  ])('%s carries no session', (path) => {
    expect(sessionFromPath(path, MAX)).toEqual({ kind: 'none' });
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
  ])('%s -> %s', (path, reason) => {
    const r = sessionFromPath(path, MAX);
    if (reason === 'session') expect(r).toEqual({ kind: 'session', id: 'abc' });
    else expect(r).toEqual({ kind: 'invalid', reason });
  });

  it('refuses URIs above the length limit before parsing them', () => {
    expect(sessionFromPath(`/session/carta/abc/${'x'.repeat(100)}`, 64)).toEqual({
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
    expect(sessionFromReferer('https://carta.example.org', MAX)).toEqual({ kind: 'none' });
    expect(sessionFromReferer('https://carta.example.org?x=/session/carta/abc/', MAX)).toEqual({
      kind: 'none',
    });
    expect(sessionFromReferer('about:blank', MAX)).toEqual({ kind: 'none' });
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
