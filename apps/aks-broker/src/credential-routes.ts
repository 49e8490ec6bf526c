// /api/credentials: the page's "Use kubectl" panel. A signed-in browser lists its session's kubectl
// credentials, creates one (the answer carries the secret and a ready kubeconfig, once) and revokes
// them. Mounted behind the session, the CSRF guard and the rate limit like the rest of /api; a kubectl
// credential can never reach these routes, so it cannot mint or extend itself.
import express, { Router } from 'express';
import { z } from 'zod';
import { BadRequestError, NotFoundError, type Logger } from '@auth-sidecars/service-kit';
import { PATHS } from './constants.js';
import type { CliCredentials, CredentialSummary } from './credentials.js';
import { kubeconfigYaml } from './kubeconfig.js';
import type { BrokerMetrics } from './metrics.js';
import type { Session } from './sessions.js';

export interface CredentialRoutesDeps {
  credentials: CliCredentials;
  publicUrl: string;
  /** PUBLIC_CA_FILE's PEM, for the kubeconfig. */
  publicCaPem?: string;
  logger: Logger;
  metrics?: BrokerMetrics;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const createBody = z
  .object({
    name: z
      .string()
      .trim()
      .regex(/^[\w .@:-]{1,40}$/, 'name: 1 to 40 letters, digits, spaces or . _ @ : -')
      .default('kubectl'),
    ttlSeconds: z.number().int().positive().optional(),
    namespace: z.string().regex(NAMESPACE, 'namespace must be a DNS label').optional(),
  })
  .strict();

const ID = /^[A-Za-z0-9_-]{12}$/;

const shown = (c: CredentialSummary) => ({
  id: c.id,
  name: c.name,
  createdAt: new Date(c.createdAt).toISOString(),
  expiresAt: new Date(c.expiresAt).toISOString(),
});

export function credentialRoutes(deps: CredentialRoutesDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'credentials' });
  const path = PATHS.credentials.slice('/api'.length);
  const sessionOf = (locals: Record<string, unknown>) => ({
    id: locals.sessionId as string,
    session: locals.session as Session,
  });

  router.get(path, async (_req, res, next) => {
    try {
      const { id } = sessionOf(res.locals);
      const list = await deps.credentials.list(id);
      res.set('cache-control', 'no-store').json({
        credentials: list.map(shown),
        maxTtlSeconds: Math.floor(deps.credentials.options.maxTtlMs / 1000),
        perSession: deps.credentials.options.perSession,
      });
    } catch (error) {
      next(error);
    }
  });

  router.post(path, express.json({ limit: '2kb' }), async (req, res, next) => {
    try {
      const parsed = createBody.safeParse(req.body ?? {});
      if (!parsed.success)
        throw new BadRequestError(parsed.error.issues.map((i) => i.message).join('; '), 'invalid_request');
      const { id, session } = sessionOf(res.locals);
      const { secret, credential } = await deps.credentials.create(id, session, {
        name: parsed.data.name,
        ttlMs: parsed.data.ttlSeconds === undefined ? undefined : parsed.data.ttlSeconds * 1000,
      });
      deps.metrics?.credentials.inc({ event: 'created' });
      log.info('kubectl credential created', {
        user: session.user.username,
        oid: session.user.oid,
        credentialId: credential.id,
        expiresAt: new Date(credential.expiresAt).toISOString(),
      });
      res
        .status(201)
        .set('cache-control', 'no-store')
        .json({
          credential: shown(credential),
          token: secret,
          kubeconfig: kubeconfigYaml({
            publicUrl: deps.publicUrl,
            caPem: deps.publicCaPem,
            username: session.user.username,
            token: secret,
            namespace: parsed.data.namespace,
          }),
        });
    } catch (error) {
      next(error);
    }
  });

  router.delete(`${path}/:id`, async (req, res, next) => {
    try {
      const credentialId = req.params.id;
      if (!ID.test(credentialId)) throw new BadRequestError('not a credential id', 'invalid_request');
      const { id, session } = sessionOf(res.locals);
      if (!(await deps.credentials.revoke(id, credentialId)))
        throw new NotFoundError('this sign-in has no such credential', 'credential_not_found');
      deps.metrics?.credentials.inc({ event: 'revoked' });
      log.info('kubectl credential revoked', {
        user: session.user.username,
        oid: session.user.oid,
        credentialId,
      });
      res.status(204).end();
    } catch (error) {
      next(error);
    }
  });
  return router;
}
