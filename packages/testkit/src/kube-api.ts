// Kubernetes API server stand-in for tests and benchmarks: HTTPS with its own CA, bearer-token
// authentication, a pluggable authorizer (403 Status like RBAC), discovery, list/get/create/update/
// patch/delete and watch of namespaced and cluster-scoped resources (and their status subresource)
// with labelSelector, fieldSelector and resourceVersion, Table answers for kubectl, pod logs (followed
// too), exec and port-forward over WebSocket (kube-api-pod-io.ts), 410 Gone for
// compacted versions, and controls to end, break or take down the server so clients' recovery paths
// can be exercised with the real @kubernetes/client-node.
//
// This file is the facade: it owns the server's state and wires the parts together. The parts:
// kube-api-types (public shapes), -app (express app and route order), -middleware (request log,
// faults, authentication), -resources (resource routes), -watch (watch streams), -listener (socket,
// down/up), -objects (in-process helpers), -pods (pod logs/exec/port-forward wiring), -kubeconfig.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeApiApp } from './kube-api-app.js';
import { createServerTls } from './kube-api-certs.js';
import { kubeconfigYaml } from './kube-api-kubeconfig.js';
import { Listener } from './kube-api-listener.js';
import { bearerUser, Faults } from './kube-api-middleware.js';
import { objectHelpers } from './kube-api-objects.js';
import { podUpgradeHandler } from './kube-api-pod-io.js';
import { podIoHost, podLogsOf } from './kube-api-pods.js';
import { sendStatus, statusBody } from './kube-api-request.js';
import { OpenWatches, type WatchHost } from './kube-api-watch.js';
import {
  BUILTIN_RESOURCES,
  ObjectStore,
  StoreError,
  type KubeObject,
  type ResourceType,
  type StoreEvent,
} from './kube-api-store.js';
import type {
  Authorizer,
  KubeApi,
  KubeApiOptions,
  KubeUser,
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
  const tmpDirs: string[] = [];
  const graceTimers = new Set<NodeJS.Timeout>();

  const faults = new Faults(graceTimers);
  const userOf = bearerUser(tokens, options.authenticate);

  const isAllowed = async (attrs: RequestAttributes) => {
    try {
      return await authorize(attrs);
    } catch {
      return false;
    }
  };

  const podLogs = podLogsOf(store, defaultNamespace);
  const podIo = podIoHost({ store, userOf, isAllowed, requestLog });
  const { app, router } = kubeApiApp({
    watchHost,
    requestLog,
    faults,
    userOf,
    isAllowed,
    podIo,
    podLogs,
    address: () => `${host}:${port}`,
  });

  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, app);
  // exec and port-forward: WebSocket handshakes, authenticated and authorized like any request.
  const podUpgrades = podUpgradeHandler(podIo);
  server.on('upgrade', podUpgrades.listener);
  server.keepAliveTimeout = 60_000;
  // Watches are destroyed before their sockets, so each ends through its own cleanup.
  const listener = new Listener(server, host, () => watches.destroyAll());
  const port = await listener.start(options.port ?? 0);
  const url = `https://${host}:${port}`;
  if (options.startDown) await listener.setDown(true);

  const { refOf, ...objects } = objectHelpers(store, defaultNamespace, graceTimers);

  const token = (username: string, groups?: string[]) => {
    for (const [t, u] of tokens) if (u.username === username) return t;
    const t = randomBytes(16).toString('hex');
    tokens.set(t, { username, groups: [...(groups ?? []), 'system:authenticated'] });
    return t;
  };

  const kubeconfig = (username = 'kubernetes-admin', namespace = defaultNamespace) =>
    kubeconfigYaml({ url, caPem: tls.caPem, username, token: token(username), namespace });

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
    ...objects,
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
    setDown: (value) => listener.setDown(value),
    failNext(count, code = 500) {
      faults.failNext(count, code);
    },
    setLatency(ms) {
      faults.setLatency(ms);
    },
    async close() {
      for (const t of graceTimers) clearTimeout(t);
      podUpgrades.close();
      await listener.stop();
      for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
    },
  };
  options.extraRoutes?.(router, api);
  return api;
}
