// Proxied requests skip express: service-kit's fast path runs its request-id, request-log and
// metrics middleware as a plain chain in front of the forwarder, while everything else (probes,
// /metrics, 404s) goes to the app's express app. Express' per-request work (prototype swaps,
// router walk) roughly doubled the CPU of a forwarded request.
import type { IncomingMessage, RequestListener } from 'node:http';
import {
  baseFastPathListener,
  fastPathListener as plainFastPathListener,
  type FastRoute,
  type Logger,
  type Metrics,
  type PlainMiddleware,
} from '@auth-sidecars/service-kit';
import type { Forwarder } from './forwarder.js';
import { requestRefusal } from './request-guard.js';

export type { PlainMiddleware } from '@auth-sidecars/service-kit';

export interface FastPathOptions {
  /** Handles every request that is not proxied (the express app). */
  app: RequestListener;
  /** True for requests that go straight to the forwarder. */
  proxied(req: IncomingMessage): boolean;
  /** Run in order before the forwarder, e.g. service-kit's `baseMiddleware(...)`. */
  middleware: readonly PlainMiddleware[];
  /** `route` label of the HTTP metrics for proxied requests. */
  route: string;
  forwarder: Forwarder;
  /** Unexpected (non-AppError) failures are logged here with their stack, as service-kit's errorHandler does. */
  logger?: { error(message: string, meta?: Record<string, unknown>): unknown };
}

function forwarderRoute(route: string, forwarder: Forwarder): FastRoute {
  return { route, handle: (req, res, fail) => forwarder.handle(req, res, fail) };
}

/**
 * Requests refused at entry (request-guard.ts) take this route, ahead of both the forwarder and the
 * express app: they are logged and counted like any request, and answered in the JSON error shape.
 */
const REFUSED: FastRoute = {
  route: 'refused',
  handle: (req, res, fail) => {
    res.shouldKeepAlive = false;
    fail(requestRefusal(req));
  },
};

/** The route for `req`: refused, forwarded, or (undefined) the app's. */
function entryMatch(proxied: (req: IncomingMessage) => boolean, fast: FastRoute) {
  return (req: IncomingMessage): FastRoute | undefined =>
    requestRefusal(req) !== undefined ? REFUSED : proxied(req) ? fast : undefined;
}

export function fastPathListener(options: FastPathOptions): RequestListener {
  const { proxied, route, forwarder, ...rest } = options;
  const fast = forwarderRoute(route, forwarder);
  return plainFastPathListener({ ...rest, match: entryMatch(proxied, fast) });
}

export interface ProxyListenerOptions {
  app: RequestListener;
  proxied(req: IncomingMessage): boolean;
  route: string;
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
  /** Paths whose request lines are logged at debug (probes, /metrics). */
  quietPaths: readonly string[];
}

/** The forwarder behind service-kit's baseMiddleware chain: what both proxies serve. */
export function proxyListener(options: ProxyListenerOptions): RequestListener {
  const { proxied, route, forwarder, ...rest } = options;
  const fast = forwarderRoute(route, forwarder);
  return baseFastPathListener({ ...rest, match: entryMatch(proxied, fast) });
}
