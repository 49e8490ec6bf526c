import { SessionIndex, SourceIndex, type IndexSource, type SourceSpec } from '../src/session-index.js';

const podsNew: SourceSpec = { kind: 'pods', idLabel: 'canfar.net/id', userLabel: 'canfar.net/username' };
const podsLegacy: SourceSpec = {
  kind: 'pods',
  idLabel: 'canfar-net-sessionID',
  userLabel: 'canfar-net-userid',
};
const svcNew: SourceSpec = { kind: 'services', idLabel: 'canfar.net/id', userLabel: 'canfar.net/username' };

const obj = (name: string, labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'ns', labels, ...extra },
});

function source(spec: SourceSpec, usable = true): IndexSource & { index: SourceIndex } {
  const index = new SourceIndex(spec);
  return { spec, index, current: () => index, usable: () => usable };
}

describe('SourceIndex', () => {
  it('indexes only live objects with well-formed labels, and follows updates and deletes', () => {
    const idx = new SourceIndex(podsNew);
    idx.reset([
      obj('a', { 'canfar.net/id': 'abc', 'canfar.net/username': 'alice' }),
      obj('b', { 'canfar.net/id': 'BAD', 'canfar.net/username': 'bob' }),
      obj('c', { 'canfar.net/id': 'ccc', 'canfar.net/username': 'bad user' }),
      obj('d', { 'canfar.net/id': 'ddd', 'canfar.net/username': 'dave' }, { deletionTimestamp: new Date() }),
      { ...obj('e', { 'canfar.net/id': 'eee', 'canfar.net/username': 'erin' }), status: { phase: 'Failed' } },
    ]);
    expect(idx.objectCount).toBe(1);
    expect(idx.users('abc')).toEqual(['alice']);
    idx.upsert(obj('a', { 'canfar.net/id': 'xyz', 'canfar.net/username': 'alice' }));
    expect(idx.users('abc')).toEqual([]);
    expect(idx.users('xyz')).toEqual(['alice']);
    idx.remove(obj('a', {}));
    expect(idx.sessionCount).toBe(0);
  });
});

describe('SessionIndex', () => {
  it('tries pods (new keys, then legacy), then services', () => {
    const [pn, pl, sn] = [source(podsNew), source(podsLegacy), source(svcNew)];
    pl.index.upsert(obj('p1', { 'canfar-net-sessionID': 'old', 'canfar-net-userid': 'bob' }));
    sn.index.upsert(obj('s1', { 'canfar.net/id': 'svc', 'canfar.net/username': 'sam' }));
    sn.index.upsert(obj('s2', { 'canfar.net/id': 'old', 'canfar.net/username': 'mallory' }));
    const index = new SessionIndex([pn, pl, sn]);
    expect(index.lookup('old')).toEqual({ kind: 'owner', userId: 'bob' });
    expect(index.lookup('svc')).toEqual({ kind: 'owner', userId: 'sam' });
    expect(index.lookup('none')).toEqual({ kind: 'unknown' });
    expect(index.sessionCount()).toBe(2);
  });

  it('treats two pods naming different users as a conflict, the same user twice as fine', () => {
    const [pn, pl] = [source(podsNew), source(podsLegacy)];
    pn.index.upsert(obj('p1', { 'canfar.net/id': 'abc', 'canfar.net/username': 'alice' }));
    pl.index.upsert(obj('p1', { 'canfar-net-sessionID': 'abc', 'canfar-net-userid': 'alice' }));
    const index = new SessionIndex([pn, pl]);
    expect(index.lookup('abc')).toEqual({ kind: 'owner', userId: 'alice' });
    pn.index.upsert(obj('p2', { 'canfar.net/id': 'abc', 'canfar.net/username': 'mallory' }));
    expect(index.lookup('abc')).toEqual({ kind: 'conflict', userIds: ['alice', 'mallory'] });
  });

  it('is unavailable when a source it needs cannot answer', () => {
    const pn = source(podsNew);
    pn.index.upsert(obj('p1', { 'canfar.net/id': 'abc', 'canfar.net/username': 'alice' }));
    const index = new SessionIndex([pn, source(svcNew, false)]);
    expect(index.lookup('abc')).toEqual({ kind: 'owner', userId: 'alice' });
    expect(index.lookup('zzz')).toEqual({ kind: 'unavailable' });
  });
});
