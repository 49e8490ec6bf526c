// GET /api/me: who the signed-in user is and, from SelfSubjectRulesReview, what the API server
// lets them do in a namespace (the web page's permissions table).
import { Router } from 'express';
import { BadRequestError, UpstreamError, UpstreamTimeoutError } from '@auth-sidecars/service-kit';
import { PATHS } from './constants.js';
import type { AuditLog } from './audit.js';
import { callerOf } from './caller.js';
import { beforeDeadline, type KubeClient } from './kube.js';
import type { Session } from './sessions.js';
import type { BrokerMetrics } from './metrics.js';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface MeDeps {
  client: KubeClient;
  audit: AuditLog;
  namespaces: readonly string[];
  metrics?: BrokerMetrics;
}

export function meRoutes(deps: MeDeps): Router {
  const router = Router();
  router.get(PATHS.me.slice('/api'.length), async (req, res, next) => {
    // Dispatch: the token, the wait for a connection and the whole answer count against this.
    const deadline = deps.client.deadline();
    const session = res.locals.session as Session;
    const caller = callerOf(res);
    const started = Date.now();
    try {
      const requested =
        typeof req.query.namespace === 'string' ? req.query.namespace : (deps.namespaces[0] ?? 'default');
      if (!NAMESPACE.test(requested))
        throw new BadRequestError('namespace must be a DNS label', 'invalid_namespace');
      const token = await beforeDeadline(caller.token(), deadline, 'getting a token for the cluster');
      const audit = (status: number) =>
        deps.audit.record({
          user: caller.user.username,
          oid: caller.user.oid,
          via: caller.via,
          verb: 'create',
          apiGroup: 'authorization.k8s.io',
          resource: 'selfsubjectrulesreviews',
          namespace: requested,
          status,
          requestId: req.id,
          durationMs: Date.now() - started,
          path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
        });
      let review: { status: number; body: unknown };
      try {
        review = await deps.client.selfSubjectRulesReview(token, requested, deadline);
      } catch (error) {
        audit(error instanceof UpstreamTimeoutError ? 504 : 502);
        throw error;
      }
      deps.metrics?.kubeCalls.inc({ verb: 'create', code: String(review.status) });
      audit(review.status);
      if (review.status >= 500 || review.status === 401)
        throw new UpstreamError(`the Kubernetes API server answered ${review.status} to the rules review`);
      const status = (review.body as { status?: Record<string, unknown> } | undefined)?.status;
      res.set('cache-control', 'no-store').json({
        user: {
          name: caller.user.name,
          username: caller.user.username,
          oid: caller.user.oid,
          tenantId: caller.user.tid,
        },
        session: { expiresAt: new Date(session.expiresAt).toISOString() },
        namespace: requested,
        namespaces: deps.namespaces,
        permissions:
          review.status < 300 && status
            ? {
                resourceRules: status.resourceRules ?? [],
                nonResourceRules: status.nonResourceRules ?? [],
                incomplete: Boolean(status.incomplete),
                evaluationError: status.evaluationError,
              }
            : {
                resourceRules: [],
                nonResourceRules: [],
                incomplete: true,
                evaluationError: `rules review refused (${review.status})`,
              },
      });
    } catch (error) {
      next(error);
    }
  });
  return router;
}
