// req.log on demand. Most requests never log through their request logger (the request line goes
// out through the root logger with the request id), and a winston child is an object with its own
// write() per request, so req.log is an accessor that creates the child on first read. The accessor
// sits on prototypes: express's request (every app and sub-app inherits it) and the request class
// serve() hands to node:http (plain listeners such as a proxy's fast path). A request with neither
// gets its child up front, as before.
import http from 'node:http';
import express from 'express';
import type { Logger } from './logger.js';

const BASE_LOGGER = Symbol('service-kit.baseLogger');
const REQUEST_ID = Symbol('service-kit.requestId');
const REQUEST_LOGGER = Symbol('service-kit.requestLogger');
const LAZY_LOG = Symbol('service-kit.lazyRequestLog');

interface LazyLogState {
  [BASE_LOGGER]?: Logger;
  [REQUEST_ID]?: string;
  [REQUEST_LOGGER]?: Logger | undefined;
  [LAZY_LOG]?: true;
  log?: Logger | undefined;
}

const lazyLogAccessor: PropertyDescriptor & ThisType<LazyLogState> = {
  configurable: true,
  enumerable: true,
  get(): Logger | undefined {
    if (REQUEST_LOGGER in this) return this[REQUEST_LOGGER];
    const base = this[BASE_LOGGER];
    if (base === undefined) return undefined;
    const child = base.child({ requestId: this[REQUEST_ID] });
    this[REQUEST_LOGGER] = child;
    return child;
  },
  set(value: Logger | undefined) {
    this[REQUEST_LOGGER] = value;
  },
};

function installLazyLog(proto: object): void {
  if (Object.hasOwn(proto, 'log')) return;
  Object.defineProperty(proto, 'log', lazyLogAccessor);
  Object.defineProperty(proto, LAZY_LOG, { value: true });
}

/** The request class serve() gives node:http: its req.log is created on first read. */
export class RequestWithLazyLog extends http.IncomingMessage {}
installLazyLog(RequestWithLazyLog.prototype);

let expressInstalled = false;
/** Puts the accessor on express's request prototype (once, when baseMiddleware is first built). */
export function useLazyRequestLoggers(): void {
  if (expressInstalled) return;
  expressInstalled = true;
  installLazyLog(express.request);
}

/** Gives `req` its `log`: on demand where the accessor is inherited, else at once. */
export function provideRequestLogger(req: object, logger: Logger, id: string): void {
  const state = req as LazyLogState;
  if (state[LAZY_LOG] !== true) {
    state.log = logger.child({ requestId: id });
    return;
  }
  // A second baseMiddleware on the same request replaces req.log, as its assignment did.
  if (REQUEST_LOGGER in state) delete state[REQUEST_LOGGER];
  state[BASE_LOGGER] = logger;
  state[REQUEST_ID] = id;
}

/** req.log if it was created or assigned, without creating it. */
export function requestLoggerIfCreated(req: object): Logger | undefined {
  const state = req as LazyLogState;
  return state[LAZY_LOG] === true ? state[REQUEST_LOGGER] : state.log;
}
