// prom-sidecar entry point: the environment (our variable names or aad-auth-proxy's) -> config ->
// the service (service.ts), until SIGTERM/SIGINT.
import { runMain } from '@auth-sidecars/service-kit';
import { loadPromSidecarConfig } from './config.js';
import { SERVICE } from './constants.js';
import { startService } from './service.js';

await runMain(SERVICE, ({ env, logger }) => startService(loadPromSidecarConfig(env), { logger }), {
  // A request line per forwarded request: written in batches, one stdout write per event-loop turn
  // (as token-server's audit lines), not a synchronous write per request.
  logBatchDefault: true,
});
