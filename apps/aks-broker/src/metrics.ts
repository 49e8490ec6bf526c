// The broker's own counters beside service-kit's HTTP histogram.
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from './constants.js';

export interface BrokerMetrics {
  signIns: Counter<'result'>;
  tokenAcquisitions: Counter<'result'>;
  kubeCalls: Counter<'verb' | 'code'>;
  rateLimited: Counter;
  openStreams: Gauge;
  concurrencyRefused: Counter<'kind'>;
  credentials: Counter<'event'>;
}

export function createBrokerMetrics(registry: Registry): BrokerMetrics {
  return {
    signIns: new Counter({
      name: METRICS.signIns,
      help: 'Completed sign-ins by result (success, failure, invalid_state).',
      labelNames: ['result'],
      registers: [registry],
    }),
    tokenAcquisitions: new Counter({
      name: METRICS.tokenAcquisitions,
      help: 'User-scoped AKS token acquisitions by result (success, failure, reauth).',
      labelNames: ['result'],
      registers: [registry],
    }),
    kubeCalls: new Counter({
      name: METRICS.kubeCalls,
      help: 'Kubernetes API calls made as a user, by verb and HTTP status code.',
      labelNames: ['verb', 'code'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: METRICS.rateLimited,
      help: 'Requests refused by the per-user rate limit.',
      registers: [registry],
    }),
    openStreams: new Gauge({
      name: METRICS.openStreams,
      help: 'Kubernetes streams (watches, followed logs) open through this replica.',
      registers: [registry],
    }),
    concurrencyRefused: new Counter({
      name: METRICS.concurrencyRefused,
      help: 'Calls refused (429) because their user already held KUBE_MAX_STREAMS_PER_USER streams (kind=stream) or KUBE_MAX_CALLS_PER_USER calls in flight (kind=call).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    credentials: new Counter({
      name: METRICS.credentials,
      help: 'kubectl credentials by event: created, revoked (on the page; sign-out revokes without counting here), refused (a bearer that is not a live credential).',
      labelNames: ['event'],
      registers: [registry],
    }),
  };
}
