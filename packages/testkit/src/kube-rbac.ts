// RBAC for the Kubernetes API stand-in: dev-entra user tokens authenticate (verified against its
// JWKS, AKS audience) and map upn -> username, groups -> groups; Role/ClusterRole-like bindings
// decide; SelfSubjectRulesReview (authorization.k8s.io/v1) tells a user what they may do. Plug in
// with `startKubeApi({ ...kubeRbac({ bindings, issuer }) })`, so "acting as the user" is observable.
import express, { type Router } from 'express';
import { verifyAccessToken } from '@auth-sidecars/dev-entra';
import {
  sendStatus,
  type Authorizer,
  type KubeApi,
  type KubeApiOptions,
  type KubeUser,
  type RequestAttributes,
} from './kube-api.js';

/** The AKS AAD server app: the audience of user tokens the API server accepts. */
export const AKS_AUDIENCE = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const SELF_SUBJECT_RULES_REVIEW_PATH = '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews';

/** One PolicyRule of a Role/ClusterRole. */
export interface RbacRule {
  verbs: string[];
  /** Default `['']` (the core group). `*` matches any. */
  apiGroups?: string[];
  resources: string[];
  resourceNames?: string[];
}

/**
 * A RoleBinding (with `namespace`) or ClusterRoleBinding (without) with its rules inlined. Subjects
 * are usernames (dev-entra upn) and/or group names (dev-entra group object ids, `system:authenticated`).
 */
export interface RbacBinding {
  users?: string[];
  groups?: string[];
  namespace?: string;
  rules: RbacRule[];
}

const matches = (list: string[] | undefined, value: string, fallback: string[] = []) => {
  const l = list ?? fallback;
  return l.includes('*') || l.includes(value);
};

function bindsTo(binding: RbacBinding, user: KubeUser): boolean {
  if (binding.users?.includes(user.username)) return true;
  return (binding.groups ?? []).some((g) => (user.groups ?? []).includes(g));
}

/** Every binding that applies to `user` in `namespace` (cluster bindings apply everywhere). */
function applicable(
  bindings: readonly RbacBinding[],
  user: KubeUser,
  namespace: string | undefined,
): RbacBinding[] {
  return bindings.filter((b) => bindsTo(b, user) && (b.namespace === undefined || b.namespace === namespace));
}

export function ruleAllows(
  rule: RbacRule,
  attrs: Pick<RequestAttributes, 'verb' | 'apiGroup' | 'resource' | 'subresource' | 'name'>,
): boolean {
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  if (!matches(rule.verbs, attrs.verb)) return false;
  if (!matches(rule.apiGroups, attrs.apiGroup, [''])) return false;
  if (!matches(rule.resources, resource)) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0)
    return attrs.name !== undefined && rule.resourceNames.includes(attrs.name);
  return true;
}

/** Authorizer for startKubeApi: allowed when any applicable binding has a matching rule. `system:masters` may do anything. */
export function rbacAuthorizer(bindings: readonly RbacBinding[]): Authorizer {
  return (attrs) => {
    if (attrs.user.groups?.includes('system:masters')) return true;
    return applicable(bindings, attrs.user, attrs.namespace).some((b) =>
      b.rules.some((r) => ruleAllows(r, attrs)),
    );
  };
}

/** status of a SelfSubjectRulesReview: the user's rules in `namespace`, as the API server lists them. */
export function rulesReviewStatus(bindings: readonly RbacBinding[], user: KubeUser, namespace: string) {
  const resourceRules = user.groups?.includes('system:masters')
    ? [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]
    : applicable(bindings, user, namespace).flatMap((b) =>
        b.rules.map((r) => ({
          verbs: [...r.verbs],
          apiGroups: [...(r.apiGroups ?? [''])],
          resources: [...r.resources],
          ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}),
        })),
      );
  // What every authenticated user gets from system:basic-user / system:discovery.
  resourceRules.push({
    verbs: ['create'],
    apiGroups: ['authorization.k8s.io'],
    resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
  });
  const nonResourceRules = [
    {
      verbs: ['get'],
      nonResourceURLs: [
        '/api',
        '/api/*',
        '/apis',
        '/apis/*',
        '/healthz',
        '/livez',
        '/readyz',
        '/version',
        '/version/',
      ],
    },
  ];
  return { resourceRules, nonResourceRules, incomplete: false };
}

/** extraRoutes for startKubeApi: POST selfsubjectrulesreviews for the authenticated user. */
export function selfSubjectRulesReviewRoutes(
  bindings: readonly RbacBinding[],
): (router: Router, api: KubeApi) => void {
  return (router) => {
    router.post(SELF_SUBJECT_RULES_REVIEW_PATH, express.json({ limit: '64kb' }), (req, res) => {
      const user = res.locals.user as KubeUser;
      const body = req.body as { kind?: unknown; spec?: { namespace?: unknown } } | undefined;
      if (body?.kind !== undefined && body.kind !== 'SelfSubjectRulesReview') {
        return sendStatus(
          res,
          400,
          'BadRequest',
          `expected kind SelfSubjectRulesReview, got ${String(body.kind)}`,
        );
      }
      const namespace = body?.spec?.namespace;
      if (typeof namespace !== 'string' || namespace === '') {
        return sendStatus(res, 400, 'BadRequest', 'no namespace on request');
      }
      res.status(201).json({
        kind: 'SelfSubjectRulesReview',
        apiVersion: 'authorization.k8s.io/v1',
        metadata: { creationTimestamp: null },
        spec: { namespace },
        status: rulesReviewStatus(bindings, user, namespace),
      });
    });
  };
}

export interface DevEntraAuthOptions {
  /** dev-entra's issuer (`devEntra.issuer`, `${url}/${tenantId}/v2.0`). */
  issuer: string;
  /** Accepted `aud`. Default the AKS server app id. */
  audience?: string | string[];
}

/**
 * `authenticate` for startKubeApi: a dev-entra user token -> { username: upn, groups, uid: oid },
 * as AKS maps Entra users. App-only tokens and tokens for other audiences are refused (401).
 */
export function devEntraAuthenticator(
  options: DevEntraAuthOptions,
): (token: string) => Promise<KubeUser | undefined> {
  return async (token) => {
    try {
      const claims = await verifyAccessToken(token, {
        issuer: options.issuer,
        audience: options.audience ?? AKS_AUDIENCE,
      });
      const username = claims.upn ?? claims.preferred_username;
      if (claims.idtyp === 'app' || !username) return undefined;
      return { username, uid: claims.oid, groups: [...(claims.groups ?? []), 'system:authenticated'] };
    } catch {
      return undefined;
    }
  };
}

/** The three stand-in options together: `startKubeApi({ ...kubeRbac({ bindings, issuer }) })`. */
export function kubeRbac(
  options: { bindings: readonly RbacBinding[] } & Partial<DevEntraAuthOptions>,
): Pick<KubeApiOptions, 'authenticate' | 'authorize' | 'extraRoutes'> {
  return {
    ...(options.issuer
      ? { authenticate: devEntraAuthenticator({ issuer: options.issuer, audience: options.audience }) }
      : {}),
    authorize: rbacAuthorizer(options.bindings),
    extraRoutes: selfSubjectRulesReviewRoutes(options.bindings),
  };
}
