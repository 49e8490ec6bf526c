// The express app of one dev-entra: request log, body parsers and the outage gate first, then
// Entra's endpoints (one action module each), the federated issuer, the controls, and the
// Entra-shaped 404 and error answers.
import express, { type NextFunction, type Request, type Response } from 'express';
import { authorize, authorizePost } from './actions/authorization.js';
import { controlRouter, type ControlTarget } from './actions/control.js';
import {
  jwksEndpoint,
  kubernetesJwks,
  kubernetesOpenidConfiguration,
  openidConfigurationEndpoint,
  root,
} from './actions/discovery.js';
import { endSession } from './actions/end-session.js';
import { tokenEndpoint } from './actions/token.js';
import type { Params } from './params.js';
import type { Provider } from './provider.js';
import { sendError } from './respond.js';

export function createApp(provider: Provider, controls: ControlTarget): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const middleware = [
    provider.requestLog.middleware,
    express.urlencoded({ extended: false, limit: '1mb' }),
    express.json({ limit: '1mb' }),
    provider.faults.gate,
  ];
  for (const m of middleware) app.use(m);

  app.get('/', root(provider));
  const openid = openidConfigurationEndpoint(provider);
  app.get('/:tenant/v2.0/.well-known/openid-configuration', openid);
  app.get('/:tenant/.well-known/openid-configuration', openid);
  const jwks = jwksEndpoint(provider);
  app.get('/:tenant/discovery/v2.0/keys', jwks);
  app.get('/:tenant/discovery/keys', jwks);
  app.post('/:tenant/oauth2/v2.0/token', tokenEndpoint(provider));
  app.get('/:tenant/oauth2/v2.0/authorize', (req, res) => authorize(provider, req, res, req.query));
  app.post('/:tenant/oauth2/v2.0/authorize', (req, res) => authorizePost(provider, req, res));
  app.get('/:tenant/oauth2/v2.0/logout', (req, res) => endSession(provider, req, res, req.query));
  app.post('/:tenant/oauth2/v2.0/logout', (req, res) => endSession(provider, req, res, req.body as Params));

  app.get('/_kubernetes/.well-known/openid-configuration', kubernetesOpenidConfiguration(provider));
  app.get('/_kubernetes/openid/v1/jwks', kubernetesJwks(provider));

  app.use('/_control', controlRouter(controls, provider.requestLog.limit));

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not_found', error_description: 'dev-entra: no such endpoint' });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(req, res, err, provider.faults.retryAfterSeconds);
  });
  return app;
}
