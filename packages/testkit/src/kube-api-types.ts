// The public shapes of the Kubernetes API stand-in (kube-api.ts): options, users, authorizer
// attributes, the request log and the KubeApi handle.
import type { Router } from 'express';
import type { KubeObject, ObjectStore, ResourceType } from './kube-api-store.js';

export interface KubeUser {
  username: string;
  groups?: string[];
  uid?: string;
}

/** What RBAC decides on, as the API server's authorizer attributes. */
export interface RequestAttributes {
  user: KubeUser;
  /** get, list, watch, create, update, delete (or whatever an extra route passes). */
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  /** Undefined for cluster-scoped requests and lists across all namespaces. */
  namespace?: string;
  name?: string;
  path: string;
}

export type Authorizer = (attrs: RequestAttributes) => boolean | Promise<boolean>;

export interface RequestLogEntry {
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  user?: string;
  verb?: string;
  apiGroup?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  watch: boolean;
  /** Filled when the response is sent (watches: when the stream starts). */
  status?: number;
}

export interface KubeApiOptions {
  host?: string;
  port?: number;
  /** token -> user (a string is a username). An admin token is always added (see `adminToken`). */
  tokens?: Record<string, KubeUser | string>;
  /** Consulted for bearer tokens not in `tokens` (e.g. to accept dev-entra JWTs). */
  authenticate?: (token: string) => KubeUser | undefined | Promise<KubeUser | undefined>;
  /** Decides every resource request; default: every authenticated user may do anything. */
  authorize?: Authorizer;
  /** Resources besides pods, services and namespaces. */
  resources?: ResourceType[];
  /** Namespace used by the in-process helpers and kubeconfig contexts. Default `default`. */
  defaultNamespace?: string;
  /** Listen (to reserve the port) but refuse connections until `setDown(false)`. */
  startDown?: boolean;
  /** Mounted after authentication, before the built-in resource routes. */
  extraRoutes?: (router: Router, api: KubeApi) => void;
  /** Server-side cap on watch duration in seconds (the real server picks 30-60 min). Default: none. */
  maxWatchSeconds?: number;
  /** How a watch from a compacted resourceVersion is refused: `event` (200 + ERROR event, like the
   * real server) or `status` (HTTP 410 Status). Default `event`. */
  staleWatch?: 'event' | 'status';
  /** Events kept for resuming watches. Default 200000. */
  maxHistory?: number;
}

export type ObjectRef = string | { name: string; namespace?: string };

/** Shorthand accepted by the add* helpers besides a full object. */
export interface ObjectShorthand {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Pods: status.phase (default Running). */
  phase?: string;
  /** Services: spec.selector. */
  selector?: Record<string, string>;
}

export interface KubeApi {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  caPem: string;
  /** Token of the built-in admin user (`kubernetes-admin`, group `system:masters`). */
  adminToken: string;
  /** token -> user, live (add entries to register more). */
  tokens: Map<string, KubeUser>;
  store: ObjectStore;
  requestLog: RequestLogEntry[];
  /** Bearer token for a username, created on first use. */
  token(username: string, groups?: string[]): string;
  /** Kubeconfig YAML (for KubeConfig.loadFromString) for a username (default: the admin). */
  kubeconfig(username?: string, namespace?: string): string;
  /** Writes `kubeconfig(username)` to a temp file (removed on close) and returns its path. */
  writeKubeconfig(username?: string, namespace?: string): string;
  setAuthorizer(authorize: Authorizer): void;
  /** Runs the authorizer; extra routes use it for their own checks. */
  isAllowed(attrs: RequestAttributes): Promise<boolean>;

  create(resource: string, input: KubeObject | ObjectShorthand): KubeObject;
  update(resource: string, ref: ObjectRef, mutate: (obj: KubeObject) => KubeObject | void): KubeObject;
  remove(resource: string, ref: ObjectRef): KubeObject;
  get(resource: string, ref: ObjectRef): KubeObject | undefined;
  list(resource: string, namespace?: string): KubeObject[];
  addPod(pod: KubeObject | ObjectShorthand): KubeObject;
  updatePod(ref: ObjectRef, mutate: (obj: KubeObject) => KubeObject | void): KubeObject;
  /** `graceSeconds` > 0: first sets deletionTimestamp (MODIFIED), removes it after the grace period. */
  deletePod(ref: ObjectRef, options?: { graceSeconds?: number }): KubeObject;
  addService(service: KubeObject | ObjectShorthand): KubeObject;
  updateService(ref: ObjectRef, mutate: (obj: KubeObject) => KubeObject | void): KubeObject;
  deleteService(ref: ObjectRef): KubeObject;
  addNamespace(name: string, labels?: Record<string, string>): KubeObject;
  /** Appends a line to a pod's log (`kubectl logs`; followers get it at once). */
  appendLog(ref: ObjectRef, line: string): void;

  /** Open watch streams right now. */
  watchCount(): number;
  /** Ends every open watch cleanly (terminating chunk), as a server-side watch timeout does. */
  endWatches(): void;
  /** Destroys every open watch's connection mid-stream (no terminating chunk). */
  breakWatches(): void;
  /** Open watches go silent: connections stay up, events stop (a stuck watch no error reveals). */
  stallWatches(): void;
  /** Forgets history: watches resuming from any version handed out so far get 410 Gone. */
  compact(): void;
  /** Down: stop listening and drop every connection (clients see ECONNREFUSED); up: listen again on the same port. */
  setDown(down: boolean): Promise<void>;
  /** The next `count` API requests fail with `code` (a Status body). */
  failNext(count: number, code?: number): void;
  /** Every request waits this long before it is handled (0 = off). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}
