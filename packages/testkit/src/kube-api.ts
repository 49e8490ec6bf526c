// Kubernetes API server stand-in for tests and benchmarks: HTTPS with its own CA, bearer-token
// authentication, a pluggable authorizer (403 Status like RBAC), discovery, list/get/create/update/
// patch/delete and watch of namespaced and cluster-scoped resources (and their status subresource)
// with labelSelector, fieldSelector and resourceVersion, Table answers for kubectl, pod logs (followed
// too), exec and port-forward over WebSocket (kube-api-pod-io.ts), 410 Gone for
// compacted versions, and controls to end, break or take down the server so clients' recovery paths
// can be exercised with the real @kubernetes/client-node.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createServerTls } from './kube-api-certs.js';
import { forbiddenMessage, parsePath, REASONS, sendStatus, statusBody, verbOf } from './kube-api-request.js';
import { PodLogs, podLogRoute, podUpgradeHandler, type PodIoHost } from './kube-api-pod-io.js';
import { apiGroupList, apiResourceList, apiVersions } from './kube-api-discovery.js';
import { applyPatch, PatchError, requiredResourceVersion } from './kube-api-patch.js';
import { tableContentType, tableFormat, toTable, type TableFormat } from './kube-api-table.js';
import { OpenWatches, startWatch, type WatchHost } from './kube-api-watch.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './kube-api-selectors.js';
import {
  apiVersionOf,
  BUILTIN_RESOURCES,
  ObjectStore,
  StoreError,
  type KubeObject,
  type ResourceType,
  type StoreEvent,
} from './kube-api-store.js';
import { shorthandToObject } from './kube-api-objects.js';
import type {
  Authorizer,
  KubeApi,
  KubeApiOptions,
  KubeUser,
  ObjectRef,
  RequestAttributes,
  RequestLogEntry,
} from './kube-api-types.js';

export type {
  Authorizer,
  KubeApi,
  KubeApiOptions,
  KubeUser,
  ObjectRef,
  ObjectShorthand,
  RequestAttributes,
  RequestLogEntry,
} from './kube-api-types.js';

export { BUILTIN_RESOURCES, ObjectStore, StoreError, type KubeObject, type ResourceType, type StoreEvent };
export { sendStatus, statusBody };

function sendTable(res: Response, format: TableFormat, table: Record<string, unknown>): void {
  // res.end, not res.send: express would append a charset the API server does not send.
  res.setHeader('content-type', tableContentType(format));
  res.end(JSON.stringify(table));
}

/** Optimistic concurrency: a body naming a resourceVersion applies only to that version. */
function checkResourceVersion(resource: string, current: KubeObject, required: string | undefined): void {
  if (required !== undefined && required !== current.metadata.resourceVersion) {
    throw new StoreError(
      409,
      `Operation cannot be fulfilled on ${resource} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  }
}

function stripForList(obj: KubeObject): KubeObject {
  // List items carry no kind/apiVersion on the wire; watch events do.
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = obj;
  return rest as KubeObject;
}

export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const host = options.host ?? '127.0.0.1';
  const defaultNamespace = options.defaultNamespace ?? 'default';
  const staleWatch = options.staleWatch ?? 'event';
  const tls = await createServerTls('kube-api-stand-in', host === '127.0.0.1' ? [] : [host]);
  const store = new ObjectStore([...BUILTIN_RESOURCES, ...(options.resources ?? [])], options.maxHistory);
  const tokens = new Map<string, KubeUser>();
  for (const [token, user] of Object.entries(options.tokens ?? {})) {
    tokens.set(token, typeof user === 'string' ? { username: user } : user);
  }
  const adminToken = randomBytes(16).toString('hex');
  tokens.set(adminToken, {
    username: 'kubernetes-admin',
    groups: ['system:masters', 'system:authenticated'],
  });
  let authorize: Authorizer = options.authorize ?? (() => true);
  const requestLog: RequestLogEntry[] = [];
  const watches = new OpenWatches();
  const watchHost: WatchHost = {
    store,
    watches,
    staleWatch,
    maxWatchSeconds: options.maxWatchSeconds,
  };
  const sockets = new Set<Socket>();
  const tmpDirs: string[] = [];
  let failures: { count: number; code: number } = { count: 0, code: 500 };
  let latencyMs = 0;
  const graceTimers = new Set<NodeJS.Timeout>();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const logRequest = (req: Request, res: Response, next: NextFunction) => {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') query[k] = v;
    const entry: RequestLogEntry = {
      time: Date.now(),
      method: req.method,
      path: req.path,
      query,
      // As the API server parses it (Go's Convert_Slice_string_To_bool): only "", "0", "false" are false.
      watch: query.watch !== undefined && !['', '0', 'false'].includes(query.watch.toLowerCase()),
    };
    requestLog.push(entry);
    res.locals.logEntry = entry;
    // Recorded as the head goes out, so a test that has its response already sees it.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
    res.writeHead = ((statusCode: number, ...rest: unknown[]) => {
      entry.status = statusCode;
      return writeHead(statusCode, ...rest);
    }) as Response['writeHead'];
    next();
  };

  const injectFailures = (_req: Request, res: Response, next: NextFunction) => {
    if (failures.count <= 0) {
      if (latencyMs <= 0) return next();
      const timer = setTimeout(() => {
        graceTimers.delete(timer);
        next();
      }, latencyMs);
      graceTimers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        graceTimers.delete(timer);
      });
      return;
    }
    failures.count--;
    sendStatus(
      res,
      failures.code,
      REASONS[failures.code] ?? 'InternalError',
      `injected failure (${failures.code})`,
    );
  };

  const userOf = async (header: string | undefined): Promise<KubeUser | undefined> => {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    let user = m ? tokens.get(m[1]!) : undefined;
    if (!user && m && options.authenticate) {
      try {
        user = await options.authenticate(m[1]!);
      } catch {
        user = undefined;
      }
    }
    return user;
  };

  const authenticate = async (req: Request, res: Response, next: NextFunction) => {
    const user = await userOf(req.headers.authorization);
    if (!user) return sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
    res.locals.user = user;
    (res.locals.logEntry as RequestLogEntry).user = user.username;
    next();
  };

  const isAllowed = async (attrs: RequestAttributes) => {
    try {
      return await authorize(attrs);
    } catch {
      return false;
    }
  };

  const router = express.Router();
  router.use(express.json({ limit: '10mb', type: ['application/json', 'application/*+json'] }));

  const resourceRoute = async (req: Request, res: Response) => {
    const entry = res.locals.logEntry as RequestLogEntry;
    const parsed = parsePath(req.path);
    const type = parsed ? store.types.get(parsed.resource) : undefined;
    if (!parsed || !type || type.group !== parsed.group || type.version !== parsed.version) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const watch = entry.watch;
    const verb = verbOf(req.method, parsed.name !== undefined, watch);
    // The one subresource served: status, read and written apart from the rest of the object.
    const status = parsed.subresource === 'status';
    if (parsed.subresource !== undefined && (!status || !['get', 'update', 'patch'].includes(verb))) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    Object.assign(entry, {
      verb,
      apiGroup: type.group,
      resource: type.resource,
      namespace: parsed.namespace,
      name: parsed.name,
    });
    const attrs: RequestAttributes = {
      user: res.locals.user as KubeUser,
      verb,
      apiGroup: type.group,
      resource: type.resource,
      ...(parsed.subresource !== undefined ? { subresource: parsed.subresource } : {}),
      ...(parsed.namespace !== undefined ? { namespace: parsed.namespace } : {}),
      ...(parsed.name !== undefined ? { name: parsed.name } : {}),
      path: req.path,
    };
    if (!(await isAllowed(attrs))) {
      return sendStatus(res, 403, 'Forbidden', forbiddenMessage(attrs), {
        ...(parsed.name ? { name: parsed.name } : {}),
        ...(type.group ? { group: type.group } : {}),
        kind: type.resource,
      });
    }
    if (!type.namespaced && parsed.namespace !== undefined) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const q = entry.query;
    const table = tableFormat(req.headers.accept, q.includeObject);
    try {
      switch (verb) {
        case 'list':
        case 'watch': {
          const labels = parseLabelSelector(q.labelSelector);
          const fields = parseFieldSelector(q.fieldSelector);
          const ns = parsed.namespace;
          const matches = (o: KubeObject | undefined) =>
            o !== undefined &&
            (ns === undefined || o.metadata.namespace === ns) &&
            labels(o.metadata.labels) &&
            fields(o);
          if (verb === 'list') {
            if (
              q.resourceVersionMatch === 'Exact' &&
              q.resourceVersion &&
              Number(q.resourceVersion) < store.oldestResumableVersion
            ) {
              return sendStatus(
                res,
                410,
                'Expired',
                `too old resource version: ${q.resourceVersion} (${store.resourceVersion})`,
              );
            }
            const found = store.list(type.resource, ns).filter(matches);
            const rv = String(store.resourceVersion);
            if (table) return sendTable(res, table, toTable(type, found, table, rv));
            res.type('application/json').send(
              JSON.stringify({
                kind: `${type.kind}List`,
                apiVersion: apiVersionOf(type),
                metadata: { resourceVersion: rv },
                items: found.map(stripForList),
              }),
            );
            return;
          }
          return startWatch(watchHost, res, type, matches, table);
        }
        case 'get': {
          const obj = store.get(type.resource, parsed.namespace, parsed.name!);
          if (!obj)
            return sendStatus(res, 404, 'NotFound', `${type.resource} "${parsed.name}" not found`, {
              name: parsed.name,
              kind: type.resource,
            });
          if (table) return sendTable(res, table, toTable(type, [obj], table, obj.metadata.resourceVersion));
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'create': {
          const body = (req.body ?? {}) as KubeObject;
          const obj = store.create(type.resource, {
            ...body,
            metadata: { ...body.metadata, ...(parsed.namespace ? { namespace: parsed.namespace } : {}) },
          });
          res.status(201).type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'update': {
          const body = (req.body ?? {}) as KubeObject;
          const obj = store.update(type.resource, parsed.namespace, parsed.name!, (current) => {
            checkResourceVersion(type.resource, current, requiredResourceVersion(body));
            return status ? { ...current, status: body.status ?? {} } : body;
          });
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'patch': {
          const obj = store.update(type.resource, parsed.namespace, parsed.name!, (current) => {
            checkResourceVersion(type.resource, current, requiredResourceVersion(req.body));
            const patched = applyPatch(req.headers['content-type'], current, req.body);
            // Through /status only the status changes; through the object, everything but it.
            return status
              ? { ...current, status: patched.status ?? {} }
              : { ...patched, ...(current.status ? { status: current.status } : {}) };
          });
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'delete': {
          const obj = store.remove(type.resource, parsed.namespace, parsed.name!);
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        default:
          return sendStatus(res, 405, 'MethodNotAllowed', `${req.method} is not supported by the stand-in`);
      }
    } catch (err) {
      if (err instanceof SelectorError)
        return sendStatus(res, 400, 'BadRequest', `unable to parse requirement: ${err.message}`);
      if (err instanceof PatchError)
        return sendStatus(res, err.code, REASONS[err.code] ?? 'BadRequest', err.message);
      if (err instanceof StoreError)
        return sendStatus(res, err.code, REASONS[err.code] ?? 'InternalError', err.message);
      throw err;
    }
  };

  app.use(logRequest);
  app.use(injectFailures);
  app.get('/version', (_req, res) => {
    res.json({ major: '1', minor: '33', gitVersion: 'v1.33.0-stand-in', platform: 'linux/amd64' });
  });
  app.use(authenticate);
  app.use(router);
  const podLogs = new PodLogs();
  store.subscribe((e) => {
    if (e.resource === 'pods' && e.type === 'DELETED')
      podLogs.forget({
        namespace: e.object.metadata.namespace ?? defaultNamespace,
        name: e.object.metadata.name,
      });
  });
  const podIo: PodIoHost = {
    podExists: (ref) => store.get('pods', ref.namespace, ref.name) !== undefined,
    containerNames: (ref) =>
      (
        (store.get('pods', ref.namespace, ref.name)?.spec?.containers as
          Array<{ name: string }> | undefined) ?? []
      ).map((c) => c.name),
    authenticateHeader: userOf,
    isAllowed: (attrs) => isAllowed(attrs),
    status: statusBody,
    logUpgrade: ({ path, query, user, status }) => {
      const parsed = parsePath(path);
      requestLog.push({
        time: Date.now(),
        method: 'GET',
        path,
        query,
        ...(user !== undefined ? { user } : {}),
        verb: 'create',
        apiGroup: '',
        resource: parsed?.resource,
        namespace: parsed?.namespace,
        name: parsed?.name,
        watch: false,
        status,
      });
    },
  };
  app.get(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/, (req, res, next) => {
    podLogRoute(podIo, podLogs)(req, res).catch(next);
  });
  // Discovery is open to every authenticated user (the system:discovery role binds them all).
  const sendJsonBody = (res: Response, body: unknown) =>
    res.type('application/json').send(JSON.stringify(body));
  app.get('/api', (_req, res) => sendJsonBody(res, apiVersions(`${host}:${port}`)));
  app.get('/apis', (_req, res) => sendJsonBody(res, apiGroupList(store.types.values())));
  app.get(['/api/:version', '/apis/:group/:version'], (req, res) => {
    const params = req.params as { group?: string; version: string };
    const list = apiResourceList(store.types.values(), params.group ?? '', params.version);
    if (!list) return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    sendJsonBody(res, list);
  });
  app.all(/^\/apis?\//, (req, res, next) => {
    resourceRoute(req, res).catch(next);
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

  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, app);
  // exec and port-forward: WebSocket handshakes, authenticated and authorized like any request.
  const podUpgrades = podUpgradeHandler(podIo);
  server.on('upgrade', podUpgrades.listener);
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      watches.destroyAll();
      for (const s of sockets) s.destroy();
    });

  await listen(options.port ?? 0);
  const port = (server.address() as { port: number }).port;
  const url = `https://${host}:${port}`;
  let down = false;
  if (options.startDown) {
    await stopListening();
    down = true;
  }

  const refOf = (resource: string, ref: ObjectRef): { name: string; namespace: string | undefined } => {
    const namespaced = store.type(resource).namespaced;
    const r = typeof ref === 'string' ? { name: ref } : ref;
    return { name: r.name, namespace: namespaced ? (r.namespace ?? defaultNamespace) : undefined };
  };

  const token = (username: string, groups?: string[]) => {
    for (const [t, u] of tokens) if (u.username === username) return t;
    const t = randomBytes(16).toString('hex');
    tokens.set(t, { username, groups: [...(groups ?? []), 'system:authenticated'] });
    return t;
  };

  const kubeconfig = (username = 'kubernetes-admin', namespace = defaultNamespace) => {
    const q = (s: string) => JSON.stringify(s);
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: kube-api-stand-in',
      '  cluster:',
      `    server: ${q(url)}`,
      `    certificate-authority-data: ${q(Buffer.from(tls.caPem).toString('base64'))}`,
      'users:',
      `- name: ${q(username)}`,
      '  user:',
      `    token: ${q(token(username))}`,
      'contexts:',
      '- name: stand-in',
      '  context:',
      '    cluster: kube-api-stand-in',
      `    user: ${q(username)}`,
      `    namespace: ${q(namespace)}`,
      'current-context: stand-in',
      '',
    ].join('\n');
  };

  const api: KubeApi = {
    url,
    port,
    caPem: tls.caPem,
    adminToken,
    tokens,
    store,
    requestLog,
    token,
    kubeconfig,
    writeKubeconfig(username, namespace) {
      const dir = mkdtempSync(join(tmpdir(), 'kube-api-'));
      tmpDirs.push(dir);
      const file = join(dir, 'kubeconfig');
      writeFileSync(file, kubeconfig(username, namespace), { mode: 0o600 });
      return file;
    },
    setAuthorizer(fn) {
      authorize = fn;
    },
    isAllowed,
    create: (resource, input) =>
      store.create(resource, shorthandToObject(input, store.type(resource).kind, defaultNamespace)),
    update(resource, ref, mutate) {
      const r = refOf(resource, ref);
      return store.update(resource, r.namespace, r.name, mutate);
    },
    remove(resource, ref) {
      const r = refOf(resource, ref);
      return store.remove(resource, r.namespace, r.name);
    },
    get(resource, ref) {
      const r = refOf(resource, ref);
      return store.get(resource, r.namespace, r.name);
    },
    list: (resource, namespace) => store.list(resource, namespace),
    addPod: (pod) => api.create('pods', pod),
    updatePod: (ref, mutate) => api.update('pods', ref, mutate),
    deletePod(ref, opts = {}) {
      if (!opts.graceSeconds) return api.remove('pods', ref);
      const marked = api.update('pods', ref, (o) => {
        o.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      });
      const timer = setTimeout(() => {
        graceTimers.delete(timer);
        if (api.get('pods', ref)) api.remove('pods', ref);
      }, opts.graceSeconds * 1000);
      graceTimers.add(timer);
      return marked;
    },
    addService: (service) => api.create('services', service),
    updateService: (ref, mutate) => api.update('services', ref, mutate),
    deleteService: (ref) => api.remove('services', ref),
    addNamespace: (name, labels) => api.create('namespaces', { name, ...(labels ? { labels } : {}) }),
    appendLog(ref, line) {
      const r = refOf('pods', ref);
      podLogs.append({ namespace: r.namespace ?? defaultNamespace, name: r.name }, line);
    },
    watchCount: () => watches.size,
    endWatches() {
      watches.endAll();
    },
    breakWatches() {
      watches.destroyAll();
    },
    stallWatches() {
      watches.stallAll();
    },
    compact: () => store.compact(),
    async setDown(value) {
      if (value === down) return;
      down = value;
      if (value) await stopListening();
      else await listen(port);
    },
    failNext(count, code = 500) {
      failures = { count, code };
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async close() {
      for (const t of graceTimers) clearTimeout(t);
      podUpgrades.close();
      await stopListening();
      for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
    },
  };
  options.extraRoutes?.(router, api);
  return api;
}
