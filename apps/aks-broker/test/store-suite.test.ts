// One suite, every backend (the oauth2-proxy habit): memory and a real redis-server must behave alike
// for sessions, single-use claims and sealed MSAL cache partitions.
import { createHash } from 'node:crypto';
import { startRedis, type RunningRedis } from '@auth-sidecars/testkit/redis';
import { MemoryStore, type KeyValueStore } from '../src/store.js';
import { RedisStore } from '../src/redis-store.js';
import { SessionStore, type SessionUser } from '../src/sessions.js';
import { TokenCachePartitions } from '../src/token-cache.js';
import { CryptoBox, DecryptError } from '../src/crypto-box.js';
import { STORE_PREFIX } from '../src/constants.js';

let redis: RunningRedis;
const opened: KeyValueStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const store of opened) await store.close();
  await redis?.close();
});

const backends: Array<[string, () => Promise<KeyValueStore>]> = [
  ['memory', async () => new MemoryStore()],
  [
    'redis',
    async () => RedisStore.connect(redis.url, { prefix: `suite-${Math.random().toString(36).slice(2)}:` }),
  ],
];

const alice: SessionUser = {
  oid: 'oid-a',
  tid: 'tid',
  name: 'Alice',
  username: 'alice@contoso.test',
  homeAccountId: 'oid-a.tid',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(backends)('%s store', (kind, make) => {
  let store: KeyValueStore;
  beforeEach(async () => {
    store = await make();
    opened.push(store);
  });

  it('reports its kind and answers ping', async () => {
    expect(store.kind).toBe(kind);
    expect(await store.ping()).toBe(true);
  });

  it('gets what was set and nothing after delete', async () => {
    await store.set('k', 'v', 10_000);
    expect(await store.get('k')).toBe('v');
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
  });

  it('expires entries after their ttl', async () => {
    await store.set('short', 'v', 80);
    expect(await store.get('short')).toBe('v');
    await sleep(200);
    expect(await store.get('short')).toBeUndefined();
  });

  it('take is single use, also under concurrency', async () => {
    await store.set('once', 'v', 10_000);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.take('once')));
    expect(results.filter((r) => r === 'v')).toHaveLength(1);
    expect(await store.get('once')).toBeUndefined();
  });

  it('refuses a non-positive ttl', async () => {
    await expect(store.set('k', 'v', 0)).rejects.toThrow(RangeError);
  });

  describe('sessions', () => {
    const box = CryptoBox.random();

    it('creates a fresh random id each time and reads it back', async () => {
      const sessions = new SessionStore(store, box, 60_000);
      const a = await sessions.create(alice, 'cache-1');
      const b = await sessions.create(alice, 'cache-2');
      expect(a.id).not.toBe(b.id);
      expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await sessions.get(a.id))?.cacheKey).toBe('cache-1');
      expect((await sessions.get(b.id))?.user).toEqual(alice);
    });

    it('does not store the raw session id as a key', async () => {
      const sessions = new SessionStore(store, box, 60_000);
      const { id } = await sessions.create(alice, 'c');
      expect(await store.get(STORE_PREFIX.session + id)).toBeUndefined();
    });

    it('unknown ids and destroyed sessions yield nothing', async () => {
      const sessions = new SessionStore(store, box, 60_000);
      expect(await sessions.get('nope')).toBeUndefined();
      const { id } = await sessions.create(alice, 'c');
      expect((await sessions.destroy(id))?.cacheKey).toBe('c');
      expect(await sessions.get(id)).toBeUndefined();
      expect(await sessions.destroy(id)).toBeUndefined();
    });

    it("is sealed at rest: no name in clear, and a record moved under another session's key does not open", async () => {
      const sessions = new SessionStore(store, box, 60_000);
      const a = await sessions.create(alice, 'cache-a');
      const b = await sessions.create({ ...alice, oid: 'oid-b', username: 'bob@contoso.test' }, 'cache-b');
      const keyOf = (id: string) =>
        STORE_PREFIX.session + createHash('sha256').update(id).digest('base64url');
      const sealedB = (await store.get(keyOf(b.id)))!;
      expect(sealedB).toMatch(/^v1\./);
      expect(sealedB).not.toContain('bob@contoso.test');
      await store.set(keyOf(a.id), sealedB, 60_000);
      expect(await sessions.get(a.id)).toBeUndefined();
      // A plaintext record, as an older broker wrote them (or a forger would), is no session either.
      await store.set(
        keyOf(a.id),
        JSON.stringify({ user: alice, cacheKey: 'c', createdAt: 0, expiresAt: 9e15 }),
        60_000,
      );
      expect(await sessions.get(a.id)).toBeUndefined();
      expect(await new SessionStore(store, CryptoBox.random(), 60_000).get(b.id)).toBeUndefined();
      expect((await sessions.get(b.id))?.user.username).toBe('bob@contoso.test');
    });

    it('expires with its ttl', async () => {
      const sessions = new SessionStore(store, box, 100);
      const { id } = await sessions.create(alice, 'c');
      await sleep(250);
      expect(await sessions.get(id)).toBeUndefined();
    });
  });

  it('setIfAbsent stores only when the key is free, one winner under concurrency, with its ttl', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.setIfAbsent('claim', `v${i}`, 150)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.get('claim')).toBe(`v${results.indexOf(true)}`);
    expect(await store.setIfAbsent('claim', 'again', 10_000)).toBe(false);
    await sleep(300);
    expect(await store.setIfAbsent('claim', 'after-expiry', 10_000)).toBe(true);
    await expect(store.setIfAbsent('k2', 'v', 0)).rejects.toThrow(RangeError);
  });

  describe('MSAL cache partitions', () => {
    it('round-trips sealed and is unreadable with another key or under another name', async () => {
      const box = CryptoBox.random();
      const partitions = new TokenCachePartitions(store, box, 60_000);
      await partitions.write('p-alice', '{"RefreshToken":{"x":{"secret":"rt-alice"}}}');
      expect(await partitions.read('p-alice')).toContain('rt-alice');
      const raw = await store.get(STORE_PREFIX.tokenCache + 'p-alice');
      expect(raw).toBeDefined();
      expect(raw).not.toContain('rt-alice');
      await expect(
        new TokenCachePartitions(store, CryptoBox.random(), 60_000).read('p-alice'),
      ).rejects.toThrow(DecryptError);
      // Copying alice's sealed entry under bob's name does not give bob alice's cache.
      await store.set(STORE_PREFIX.tokenCache + 'p-bob', raw!, 60_000);
      await expect(partitions.read('p-bob')).rejects.toThrow(DecryptError);
      await partitions.delete('p-alice');
      expect(await partitions.read('p-alice')).toBeUndefined();
    });
  });
});
