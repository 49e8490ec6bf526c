// RBAC for the Kubernetes API stand-in: dev-entra user tokens authenticate as their upn, bindings
// decide, and SelfSubjectRulesReview answers in the shape the real @kubernetes/client-node parses.
import { AuthorizationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startKubeApi, type KubeApi } from '../src/kube-api.js';
import { AKS_AUDIENCE, kubeRbac, rbacAuthorizer, ruleAllows, type RbacBinding } from '../src/kube-rbac.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const DEVELOPERS = '9a000000-0000-4000-8000-0000000000a2';

const bindings: RbacBinding[] = [
  { users: [ALICE], namespace: 'team-a', rules: [{ verbs: ['get', 'list', 'watch'], resources: ['pods'] }] },
  { groups: [DEVELOPERS], namespace: 'shared', rules: [{ verbs: ['list'], resources: ['services'] }] },
  { users: [BOB], rules: [{ verbs: ['get'], resources: ['namespaces'], resourceNames: ['team-b'] }] },
];

let entra: DevEntra;
let kube: KubeApi;

beforeAll(async () => {
  entra = await startDevEntra({ trust: true });
  kube = await startKubeApi({ ...kubeRbac({ bindings, issuer: entra.issuer }) });
  for (const ns of ['team-a', 'team-b', 'shared']) kube.addNamespace(ns);
  kube.addPod({ name: 'p', namespace: 'team-a' });
});
afterAll(async () => {
  await kube?.close();
  await entra?.close();
});

function clientFor(token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stand-in', server: kube.url, caData: Buffer.from(kube.caPem).toString('base64') }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'c', cluster: 'stand-in', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

const userToken = (user: string, scope = `${AKS_AUDIENCE}/.default`) =>
  entra.issueAccessToken({ scope, user });

describe('kube-rbac', () => {
  it('authenticates dev-entra user tokens as their upn and applies the bindings', async () => {
    const alice = clientFor(userToken(ALICE)).makeApiClient(CoreV1Api);
    const pods = await alice.listNamespacedPod({ namespace: 'team-a' });
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(['p']);
    await expect(alice.listNamespacedPod({ namespace: 'team-b' })).rejects.toMatchObject({ code: 403 });
    expect(kube.requestLog.at(-1)).toMatchObject({ user: ALICE, status: 403, namespace: 'team-b' });
  });

  it('refuses tokens for another audience, app-only tokens and garbage (401)', async () => {
    for (const token of [
      userToken(ALICE, 'https://graph.microsoft.com/.default'),
      entra.issueAccessToken({ scope: `${AKS_AUDIENCE}/.default` }),
      'not-a-jwt',
    ]) {
      await expect(
        clientFor(token).makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'team-a' }),
      ).rejects.toMatchObject({ code: 401 });
    }
  });

  it('answers SelfSubjectRulesReview per user and namespace, groups included', async () => {
    const review = async (user: string, namespace: string) =>
      (
        await clientFor(userToken(user))
          .makeApiClient(AuthorizationV1Api)
          .createSelfSubjectRulesReview({ body: { spec: { namespace } } })
      ).status!;
    const aliceA = await review(ALICE, 'team-a');
    expect(aliceA.incomplete).toBe(false);
    expect(aliceA.resourceRules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ verbs: ['get', 'list', 'watch'], resources: ['pods'], apiGroups: [''] }),
      ]),
    );
    const aliceB = await review(ALICE, 'team-b');
    expect(aliceB.resourceRules.flatMap((r) => r.resources ?? [])).not.toContain('pods');
    // bob is in the developers group: services in shared; plus his cluster-wide binding everywhere.
    const bobShared = await review(BOB, 'shared');
    expect(bobShared.resourceRules.flatMap((r) => r.resources ?? [])).toEqual(
      expect.arrayContaining(['services', 'namespaces']),
    );
  });

  it('matches rules like RBAC: verbs, groups, resources, subresources, resource names, wildcards', () => {
    const attrs = { verb: 'get', apiGroup: '', resource: 'pods', name: 'p' };
    expect(ruleAllows({ verbs: ['get'], resources: ['pods'] }, attrs)).toBe(true);
    expect(ruleAllows({ verbs: ['list'], resources: ['pods'] }, attrs)).toBe(false);
    expect(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['pods'] }, attrs)).toBe(false);
    expect(
      ruleAllows({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { ...attrs, apiGroup: 'apps' }),
    ).toBe(true);
    expect(ruleAllows({ verbs: ['get'], resources: ['pods'] }, { ...attrs, subresource: 'log' })).toBe(false);
    expect(ruleAllows({ verbs: ['get'], resources: ['pods/log'] }, { ...attrs, subresource: 'log' })).toBe(
      true,
    );
    expect(ruleAllows({ verbs: ['get'], resources: ['pods'], resourceNames: ['q'] }, attrs)).toBe(false);
    expect(ruleAllows({ verbs: ['get'], resources: ['pods'], resourceNames: ['p'] }, attrs)).toBe(true);
    const authorize = rbacAuthorizer(bindings);
    expect(
      authorize({
        user: { username: 'root', groups: ['system:masters'] },
        verb: 'delete',
        apiGroup: '',
        resource: 'pods',
        path: '/',
      }),
    ).toBe(true);
    expect(
      authorize({
        user: { username: BOB },
        verb: 'get',
        apiGroup: '',
        resource: 'namespaces',
        name: 'team-b',
        path: '/',
      }),
    ).toBe(true);
    expect(
      authorize({
        user: { username: BOB },
        verb: 'get',
        apiGroup: '',
        resource: 'namespaces',
        name: 'team-a',
        path: '/',
      }),
    ).toBe(false);
  });
});
