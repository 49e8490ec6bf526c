// The express application of the Kubernetes API stand-in, in the API server's order: request log,
// injected faults, /version (open), authentication, extra routes, pod logs, discovery, resources,
// then 404 and error answers as Status objects.
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { apiGroupList, apiResourceList, apiVersions } from './kube-api-discovery.js';
import { logRequests, requireUser, type Faults } from './kube-api-middleware.js';
import { podLogRoute, type PodIoHost, type PodLogs } from './kube-api-pod-io.js';
import { REASONS, sendStatus } from './kube-api-request.js';
import { resourceRoute } from './kube-api-resources.js';
import type { KubeUser, RequestAttributes, RequestLogEntry } from './kube-api-types.js';
import type { WatchHost } from './kube-api-watch.js';

export interface AppDeps {
  watchHost: WatchHost;
  requestLog: RequestLogEntry[];
  faults: Faults;
  userOf(header: string | undefined): Promise<KubeUser | undefined>;
  isAllowed(attrs: RequestAttributes): Promise<boolean>;
  podIo: PodIoHost;
  podLogs: PodLogs;
  /** host:port as clients reach the server (known only once it listens). */
  address(): string;
}

/** The app, and the router extra routes are mounted on (after authentication). */
export function kubeApiApp(deps: AppDeps): { app: Express; router: Router } {
  const { watchHost, requestLog, faults, userOf, isAllowed, podIo, podLogs, address } = deps;
  const { store } = watchHost;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const router = express.Router();
  router.use(express.json({ limit: '10mb', type: ['application/json', 'application/*+json'] }));

  const handleResource = resourceRoute({ ...watchHost, isAllowed });

  app.use(logRequests(requestLog));
  // An answer sent before the body was read to its end (a refusal after the JSON parser started, which
  // then paused the request): the rest is read and dropped, as the API server's Go net/http drains
  // it, so the connection's next request is served instead of waiting behind the paused body.
  app.use((req, res, next) => {
    res.once('finish', () => {
      if (req.complete || req.socket.destroyed) return;
      req.removeAllListeners('data');
      req.resume();
    });
    next();
  });
  app.use(faults.middleware);
  app.get('/version', (_req, res) => {
    res.json({ major: '1', minor: '33', gitVersion: 'v1.33.0-stand-in', platform: 'linux/amd64' });
  });
  app.use(requireUser(userOf));
  app.use(router);
  app.get(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/, (req, res, next) => {
    podLogRoute(podIo, podLogs)(req, res).catch(next);
  });
  // Discovery is open to every authenticated user (the system:discovery role binds them all).
  const sendJsonBody = (res: Response, body: unknown) =>
    res.type('application/json').send(JSON.stringify(body));
  app.get('/api', (_req, res) => sendJsonBody(res, apiVersions(address())));
  app.get('/apis', (_req, res) => sendJsonBody(res, apiGroupList(store.types.values())));
  app.get(['/api/:version', '/apis/:group/:version'], (req, res) => {
    const params = req.params as { group?: string; version: string };
    const list = apiResourceList(store.types.values(), params.group ?? '', params.version);
    if (!list) return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    sendJsonBody(res, list);
  });
  app.all(/^\/apis?\//, (req, res, next) => {
    handleResource(req, res).catch(next);
  });
  app.use((_req: Request, res: Response) =>
    sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource'),
  );
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500)
      return sendStatus(res, status, REASONS[status] ?? 'BadRequest', String((err as Error).message));
    sendStatus(res, 500, 'InternalError', `stand-in error: ${String((err as Error)?.message ?? err)}`);
  });
  return { app, router };
}
