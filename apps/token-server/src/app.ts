// Builds the token-server request listener from config and injected dependencies (no I/O, no env).
// Four doors to the same Issuer: the seed's GET /token, azd's POST /token (AZD_AUTH_ENDPOINT), App
// Service managed identity (/msi/token and /), and optionally IMDS; every door authenticates a
// client, applies its allow-list and audits.
import type { RequestListener } from 'node:http';
import express, { type Express, type Handler, type ErrorRequestHandler, type Router } from 'express';
import {
  baseFastPathListener,
  baseMiddleware,
  errorHandler,
  healthRoutes,
  lineLogger,
  metricsRoute,
  notFoundHandler,
  pathOf,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import type { TokenServerConfig } from './config.js';
import { PATHS } from './constants.js';
import type { ServerIdentity } from './identity.js';
import { Issuer } from './issuer.js';
import { createTokenServerMetrics } from './metrics.js';
import type { Policy } from './policy.js';
import { appServiceDoor } from './protocols/app-service.js';
import { azdRoute } from './protocols/azd.js';
import { doorRoute, type TokenDoor } from './protocols/common.js';
import { imdsDoor } from './protocols/imds.js';
import { seedDoor } from './protocols/seed.js';
import type { IssuedToken, ScopeTokensStatus } from './tokens.js';

export interface TokenSource {
  get(scope: string): Promise<IssuedToken>;
  /** A synchronous answer from memory when there is one (spares the hot path its awaits). */
  cached?(scope: string): IssuedToken | undefined;
  ready(): boolean;
  /** Counts only: /readyz is unauthenticated and must not list the scopes held. */
  status(): ScopeTokensStatus;
  readonly size: number;
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  /** Current policy (a PolicyStore reloads it behind this function). */
  policy: () => Policy;
  tokens: TokenSource;
}

export function serverIdentity(config: Readonly<TokenServerConfig>): ServerIdentity {
  return {
    clientId: config.identityClientId ?? config.credential.clientId,
    objectId: config.identityObjectId,
    resourceId: config.identityResourceId,
    tenantId: config.credential.tenantId,
  };
}

/**
 * What the server runs: the token doors (GET and HEAD on their paths) take service-kit's fast path
 * (request id, request log, metrics, then the door, without express); probes, /metrics and every
 * other request go to the express app.
 */
export function createListener(config: Readonly<TokenServerConfig>, deps: AppDeps): RequestListener {
  const { logger, metrics, policy, tokens } = deps;
  const issuer = new Issuer({
    policy,
    tokens,
    metrics: createTokenServerMetrics(metrics.registry, () => tokens.size),
    // One line per issuance: the hot path's largest cost, so it skips winston's per-entry copies.
    audit: lineLogger(logger, { component: 'audit' }),
    identity: serverIdentity(config),
  });
  const maxQueryBytes = config.maxQueryBytes;
  const imdsClient = config.imdsClient;
  const doors: Array<[string, TokenDoor]> = [
    [PATHS.token, seedDoor(issuer)],
    ...PATHS.appService.map((path): [string, TokenDoor] => [path, appServiceDoor(issuer)]),
    ...(imdsClient
      ? [[PATHS.imds, imdsDoor(issuer, () => policy().client(imdsClient))] as [string, TokenDoor]]
      : []),
  ];
  const routes = new Map(doors.map(([path, door]) => [path, doorRoute(path, door, issuer, maxQueryBytes)]));
  const azd = azdRoute(PATHS.token, issuer, maxQueryBytes);
  return baseFastPathListener({
    app: createApp(deps),
    match: (req) => {
      if (req.method === 'GET' || req.method === 'HEAD') return routes.get(routeKey(req.url));
      return req.method === 'POST' && routeKey(req.url) === PATHS.token ? azd : undefined;
    },
    logger,
    metrics,
    // Successful token requests are recorded by their audit line; a second (request) line for each
    // would double the logging cost of the hot path. Failures are still request-logged.
    quietPaths: [PATHS.token, PATHS.imds, `${PATHS.imds}/`, ...PATHS.appService],
  });
}

/** Everything but the token doors: probes, /health, /metrics, and the 404 of anything else. */
export function createApp(deps: AppDeps): Express {
  const { logger, metrics, tokens } = deps;
  const middleware: Array<Handler | Handler[] | Router | ErrorRequestHandler> = [
    ...baseMiddleware({ logger, metrics, quietPaths: ['/livez', '/readyz', '/metrics', PATHS.health] }),
    healthRoutes({ ready: () => ({ ready: tokens.ready(), details: { ...tokens.status() } }) }),
    metricsRoute(metrics.registry),
    express.Router().get(PATHS.health, (_req, res) => {
      res.set('cache-control', 'no-store').json({ status: 'ok' });
    }),
    notFoundHandler(),
    errorHandler(logger),
  ];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const m of middleware) app.use(m as Handler);
  return app;
}

/**
 * Paths match as express matched them: case-insensitively and with an optional trailing slash
 * (msal-node asks IMDS for `/metadata/identity/oauth2/token/`).
 */
function routeKey(url: string | undefined): string {
  const path = pathOf(url).toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
