// Someone who can write to the broker's Redis (a shared instance, a leaked password) but does not
// hold CACHE_ENCRYPTION_KEY: swapping or forging session records must not move an identity from
// one cookie to another.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, type RunningRedis } from '@auth-sidecars/testkit/redis';
import { ALICE, BOB, Client, startBroker, startWorld, type InProcessBroker, type World } from '../helpers.js';

const PREFIX = 'tamper-test:';
let world: World;
let redis: RunningRedis;
let broker: InProcessBroker;
let raw: Redis;

beforeAll(async () => {
  [world, redis] = await Promise.all([startWorld(), startRedis()]);
  broker = await startBroker(world, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: PREFIX });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await broker?.close();
  await world?.close();
  await redis?.close();
});

/** The Redis key of the session a signed-in client's cookie names. */
function sessionKey(client: Client): string {
  const id = [...client.cookies.values()][0]!.split('.')[0]!;
  return `${PREFIX}session:${createHash('sha256').update(id).digest('base64url')}`;
}

const whoAmI = async (client: Client) => {
  const res = await client.fetch('/api/me');
  return res.status === 200 ? res.json<{ user: { username: string } }>().user.username : res.status;
};

it("bob's session record copied over alice's key gives alice's cookie nobody, not bob", async () => {
  const alice = new Client(broker.url);
  const bob = new Client(broker.url);
  await alice.signIn(ALICE);
  await bob.signIn(BOB);
  expect(await whoAmI(alice)).toBe(ALICE);
  const bobsRecord = (await raw.get(sessionKey(bob)))!;
  expect(bobsRecord).not.toContain(BOB); // sealed: nothing to read or edit in it

  await raw.set(sessionKey(alice), bobsRecord, 'PX', 60_000);
  expect(await whoAmI(alice)).toBe(401);
  expect((await alice.fetch('/k8s/api/v1/namespaces/team-b/pods')).status).toBe(401);
  expect(world.kube.requestLog.filter((e) => e.user === BOB && e.namespace === 'team-b')).toEqual([]);
  expect(await whoAmI(bob)).toBe(BOB);
});

it('a forged plaintext record naming bob and his cache partition is no session either', async () => {
  const alice = new Client(broker.url);
  const bob = new Client(broker.url);
  await alice.signIn(ALICE);
  await bob.signIn(BOB);
  // Suppose the attacker learned bob's partition key some other way (it is not readable in Redis).
  const { SessionStore } = await import('../../src/sessions.js');
  const bobId = [...bob.cookies.values()][0]!.split('.')[0]!;
  const cacheKey = (await new SessionStore(broker.deps.store, broker.deps.box, 60_000).get(bobId))!.cacheKey;
  const user = world.entra.findUser(BOB)!;
  const forged = JSON.stringify({
    user: {
      oid: user.oid,
      tid: world.entra.tenantId,
      name: 'Bob',
      username: BOB,
      homeAccountId: `${user.oid}.${world.entra.tenantId}`,
    },
    cacheKey,
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
  });
  await raw.set(sessionKey(alice), forged, 'PX', 60_000);
  expect(await whoAmI(alice)).toBe(401);
});
