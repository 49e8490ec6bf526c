// User-scoped AKS tokens over time: cached, refreshed through the refresh token with a client
// assertion read from the (rotating) federated token file, and a clear 401 when refresh is gone.
import {
  ALICE,
  BOB,
  Client,
  FEDERATED_SUBJECT,
  startBroker,
  startWorld,
  type InProcessBroker,
  type World,
} from '../helpers.js';

let world: World;
let broker: InProcessBroker;

beforeAll(async () => {
  world = await startWorld();
  broker = await startBroker(world);
});
afterAll(async () => {
  await broker?.close();
  await world?.close();
});
afterEach(() => {
  world.entra.setTokenLifetime(3600);
});

const pods = (client: Client, ns = 'team-a') => client.fetch(`/k8s/api/v1/namespaces/${ns}/pods`);

describe('AKS token acquisition', () => {
  it('gets the AKS token through the refresh token once, then serves it from the cache partition', async () => {
    const alice = new Client(broker.url);
    world.entra.resetStats();
    await alice.signIn(ALICE);
    expect(world.entra.stats().byGrant).toEqual({ authorization_code: 1 });
    for (let i = 0; i < 3; i++) expect((await pods(alice)).status).toBe(200);
    // Sign-in asked for openid/profile/offline_access only; the AKS token came from the refresh token.
    expect(world.entra.stats().byGrant).toEqual({ authorization_code: 1, refresh_token: 1 });
    const refresh = world.entra.requestLog.filter((e) => e.grantType === 'refresh_token').at(-1)!;
    expect(refresh.scope).toContain('6dae42f8-4368-4678-94ff-3960e28e3630/.default');
    expect(refresh.clientAuth).toBe('federated');
  });

  it('concurrent calls of one user share one acquisition', async () => {
    const bob = new Client(broker.url);
    await bob.signIn(BOB);
    world.entra.resetStats();
    const statuses = await Promise.all(
      Array.from({ length: 8 }, () => pods(bob, 'team-b').then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(world.entra.stats().tokenRequests).toBe(1);
  });

  it('federated token file rotated during the test: the next acquisition uses the new assertion', async () => {
    // Short-lived AKS tokens: MSAL refreshes any token within 5 minutes of expiry, so every call acquires.
    world.entra.setTokenLifetime(120);
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    expect((await pods(alice)).status).toBe(200);

    // The kubelet swaps in a token the app registration does not trust: the very next call fails,
    // so the broker read the file again rather than reusing the assertion it had.
    await world.rotateFederatedToken('system:serviceaccount:elsewhere:intruder');
    const refused = await pods(alice);
    expect(refused.status).toBe(503);
    expect(refused.json()).toEqual({ error: { code: 'token_unavailable', message: expect.any(String) } });
    const rejected = world.entra.requestLog.filter((e) => e.grantType === 'refresh_token').at(-1)!;
    expect(rejected.status).toBeGreaterThanOrEqual(400);

    // A fresh, valid token appears: the next call works again without a new sign-in.
    const fresh = await world.rotateFederatedToken(FEDERATED_SUBJECT);
    expect((await pods(alice)).status).toBe(200);
    const accepted = world.entra.requestLog.filter((e) => e.grantType === 'refresh_token').at(-1)!;
    expect(accepted).toMatchObject({ status: 200, clientAuth: 'federated' });
    expect(fresh.length).toBeGreaterThan(100);
  });

  it('refresh token gone: a clear 401 telling the browser to sign in again', async () => {
    world.entra.setTokenLifetime(120);
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    expect((await pods(alice)).status).toBe(200);
    world.entra.revokeRefreshTokens();
    const res = await pods(alice);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-login-url')).toBe('/login');
    expect(res.json()).toEqual({ error: { code: 'login_required', message: 'sign in again to continue' } });
    // Signing in again recovers.
    await alice.signIn(ALICE);
    expect((await pods(alice)).status).toBe(200);
  });

  it('counts sign-ins, acquisitions and Kubernetes calls in /metrics', async () => {
    const text = await (await fetch(new URL('/metrics', broker.url))).text();
    expect(text).toMatch(/aks_broker_sign_ins_total\{[^}]*result="success"[^}]*\} [1-9]/);
    expect(text).toMatch(/aks_broker_token_acquisitions_total\{[^}]*result="reauth"[^}]*\} [1-9]/);
    expect(text).toMatch(/aks_broker_token_acquisitions_total\{[^}]*result="failure"[^}]*\} [1-9]/);
    expect(text).toMatch(/aks_broker_kube_requests_total\{[^}]*verb="list"[^}]*code="200"[^}]*\} [1-9]/);
  });

  it('readiness reflects the store and the identity provider metadata', async () => {
    const res = await fetch(new URL('/readyz', broker.url));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ready',
      details: { store: { kind: 'memory', ok: true }, identityProvider: { metadata: true } },
    });
    expect((await fetch(new URL('/livez', broker.url))).status).toBe(200);
  });
});
