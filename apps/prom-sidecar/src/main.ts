// prom-sidecar entry point: the shared token-injecting proxy shell with the Prometheus read API,
// configured by our variable names or aad-auth-proxy's, forwarding to PROMETHEUS_QUERY_ENDPOINT.
import { runTokenProxy } from '@auth-sidecars/proxy-kit';
import { createListener } from './app.js';
import { loadPromSidecarConfig } from './config.js';
import { SERVICE, WARM_UP_REQUESTS } from './constants.js';

await runTokenProxy(SERVICE, {
  loadConfig: loadPromSidecarConfig,
  upstream: (config) => config.queryEndpoint,
  createListener,
  warmUpRequests: () => WARM_UP_REQUESTS,
});
