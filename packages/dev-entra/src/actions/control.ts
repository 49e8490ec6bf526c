// /_control/*: the run-time controls over HTTP (for the CLI and other processes), each one a call
// of DevEntra's own method of the same name.
import express, { type Request } from 'express';
import { EntraError, errors } from '../errors.js';
import type { DownMode, RegisterAppOptions } from '../model.js';
import { str, type Params } from '../params.js';
import type { DevEntra } from '../server.js';

export type ControlTarget = Pick<
  DevEntra,
  | 'state'
  | 'stats'
  | 'resetStats'
  | 'requestLog'
  | 'clearRequestLog'
  | 'setTokenLifetime'
  | 'setLatency'
  | 'failNext'
  | 'setRetryAfter'
  | 'setDown'
  | 'listApps'
  | 'registerApp'
  | 'users'
  | 'issueFederatedToken'
  | 'createClientCertificate'
  | 'revokeRefreshTokens'
>;

export function controlRouter(entra: ControlTarget, logLimit: number): express.Router {
  const router = express.Router();
  const num = (value: unknown, name: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n))
      throw new EntraError(400, 'invalid_request', 900144, `'${name}' must be a number`);
    return n;
  };
  const body = (req: Request): Params => (req.body ?? {}) as Params;
  router.get('/state', (_req, res) => {
    res.json(entra.state);
  });
  router.get('/stats', (_req, res) => {
    res.json(entra.stats());
  });
  router.post('/stats/reset', (_req, res) => {
    entra.resetStats();
    res.json(entra.stats());
  });
  router.get('/log', (req, res) => {
    const limit = req.query.limit ? Number(req.query.limit) : logLimit;
    res.json(entra.requestLog.slice(-Math.max(1, limit)));
  });
  router.post('/log/clear', (_req, res) => {
    entra.clearRequestLog();
    res.json({ ok: true });
  });
  router.post('/token-lifetime', (req, res) => {
    entra.setTokenLifetime(num(body(req).seconds, 'seconds'));
    res.json(entra.state);
  });
  router.post('/latency', (req, res) => {
    entra.setLatency(num(body(req).ms, 'ms'));
    res.json(entra.state);
  });
  router.post('/fail-next', (req, res) => {
    const b = body(req);
    entra.failNext(num(b.count, 'count'), b.status === undefined ? 503 : num(b.status, 'status'));
    res.json(entra.state);
  });
  router.post('/retry-after', (req, res) => {
    entra.setRetryAfter(num(body(req).seconds, 'seconds'));
    res.json(entra.state);
  });
  router.post('/down', async (req, res) => {
    const b = body(req);
    const down = b.down === undefined ? true : b.down === true || b.down === 'true';
    const mode = (str(b.mode) ?? 'unavailable') as DownMode;
    if (!['unavailable', 'refuse', 'reset'].includes(mode)) {
      throw new EntraError(400, 'invalid_request', 900144, "'mode' must be unavailable, refuse or reset");
    }
    const forMs = b.forMs === undefined ? undefined : num(b.forMs, 'forMs');
    const state = { ...entra.state, down: { down, mode } };
    if (down && mode === 'refuse') {
      // Answer first: the listener is closed right after.
      res.json(state);
      res.on('finish', () => void entra.setDown(down, mode, forMs === undefined ? {} : { forMs }));
      return;
    }
    await entra.setDown(down, mode, forMs === undefined ? {} : { forMs });
    res.json(entra.state);
  });
  router.post('/up', async (_req, res) => {
    await entra.setDown(false);
    res.json(entra.state);
  });
  router.get('/apps', (_req, res) => {
    res.json(entra.listApps().map(({ clientSecret: _secret, ...rest }) => rest));
  });
  router.post('/apps', (req, res) => {
    res.status(201).json(entra.registerApp(body(req) as RegisterAppOptions));
  });
  router.get('/users', (_req, res) => {
    res.json(entra.users);
  });
  router.post('/federated-token', (req, res) => {
    const b = body(req);
    const subject = str(b.subject);
    if (!subject) throw errors.missingParameter('subject');
    const audience = str(b.audience);
    const token = entra.issueFederatedToken({
      subject,
      ...(audience ? { audience } : {}),
      ...(b.expiresInSeconds !== undefined
        ? { expiresInSeconds: num(b.expiresInSeconds, 'expiresInSeconds') }
        : {}),
    });
    res.json({ token });
  });
  router.post('/client-certificate', async (req, res) => {
    const subject = str(body(req).subject);
    res.json(await entra.createClientCertificate(subject ? { subject } : {}));
  });
  router.post('/revoke-refresh-tokens', (_req, res) => {
    entra.revokeRefreshTokens();
    res.json({ ok: true });
  });
  return router;
}
