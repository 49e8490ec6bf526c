// Environment fragment shared by the token-injecting proxies: upstream timeouts, pool size, the
// client side's header timeout and connection cap, and the startup policy. Spread
// `proxyEnvShape(...)` into an app schema; `proxySettings` maps it.
import { booleanFlag, durationMs } from '@auth-sidecars/service-kit';
import { z } from 'zod';
import {
  DEFAULT_CLIENT_HEADERS_TIMEOUT_MS,
  DEFAULT_CLIENT_MAX_CONNECTIONS,
  DEFAULT_MAX_SOCKETS,
} from './constants.js';
import type { ForwarderTimeouts } from './forwarder.js';

export const PROXY_ENV = Object.freeze({
  connectTimeout: 'UPSTREAM_CONNECT_TIMEOUT',
  responseTimeout: 'UPSTREAM_RESPONSE_TIMEOUT',
  idleTimeout: 'UPSTREAM_IDLE_TIMEOUT',
  maxConnections: 'UPSTREAM_MAX_CONNECTIONS',
  clientHeadersTimeout: 'CLIENT_HEADERS_TIMEOUT',
  clientMaxConnections: 'CLIENT_MAX_CONNECTIONS',
  startWithoutToken: 'START_WITHOUT_TOKEN',
  shutdownTimeout: 'SHUTDOWN_TIMEOUT',
});

export interface ProxyEnvDefaults {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  shutdownMs: number;
}

export function proxyEnvShape(defaults: ProxyEnvDefaults) {
  return {
    UPSTREAM_CONNECT_TIMEOUT: durationMs.default(defaults.connectMs),
    UPSTREAM_RESPONSE_TIMEOUT: durationMs.default(defaults.firstByteMs),
    UPSTREAM_IDLE_TIMEOUT: durationMs.default(defaults.idleMs),
    UPSTREAM_MAX_CONNECTIONS: z.coerce.number().int().positive().default(DEFAULT_MAX_SOCKETS),
    /** A client's request headers must arrive within this (node's requestTimeout, 300 s, bounds it). */
    CLIENT_HEADERS_TIMEOUT: durationMs
      .default(DEFAULT_CLIENT_HEADERS_TIMEOUT_MS)
      .refine((ms) => ms >= 1_000 && ms <= 300_000, 'expected between 1s and 300s'),
    CLIENT_MAX_CONNECTIONS: z.coerce.number().int().positive().default(DEFAULT_CLIENT_MAX_CONNECTIONS),
    /** Start unready and keep retrying instead of exiting when the first token cannot be had. */
    START_WITHOUT_TOKEN: booleanFlag(false),
    SHUTDOWN_TIMEOUT: durationMs.default(defaults.shutdownMs),
  };
}

export interface ProxyEnv {
  UPSTREAM_CONNECT_TIMEOUT: number;
  UPSTREAM_RESPONSE_TIMEOUT: number;
  UPSTREAM_IDLE_TIMEOUT: number;
  UPSTREAM_MAX_CONNECTIONS: number;
  CLIENT_HEADERS_TIMEOUT: number;
  CLIENT_MAX_CONNECTIONS: number;
  START_WITHOUT_TOKEN: boolean;
  SHUTDOWN_TIMEOUT: number;
}

export interface ProxySettings {
  timeouts: ForwarderTimeouts;
  maxConnections: number;
  /** Client side: headers timeout (408 past it) and the cap on concurrent client connections. */
  clientHeadersTimeoutMs: number;
  clientMaxConnections: number;
  startWithoutToken: boolean;
  shutdownTimeoutMs: number;
}

export function proxySettings(env: ProxyEnv): ProxySettings {
  return {
    timeouts: {
      connectMs: env.UPSTREAM_CONNECT_TIMEOUT,
      firstByteMs: env.UPSTREAM_RESPONSE_TIMEOUT,
      idleMs: env.UPSTREAM_IDLE_TIMEOUT,
    },
    maxConnections: env.UPSTREAM_MAX_CONNECTIONS,
    clientHeadersTimeoutMs: env.CLIENT_HEADERS_TIMEOUT,
    clientMaxConnections: env.CLIENT_MAX_CONNECTIONS,
    startWithoutToken: env.START_WITHOUT_TOKEN,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT,
  };
}
