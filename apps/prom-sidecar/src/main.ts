// prom-sidecar entry point: the environment (our variable names or aad-auth-proxy's) -> config ->
// the service (service.ts), until SIGTERM/SIGINT.
import { runMain } from '@auth-sidecars/service-kit';
import { loadPromSidecarConfig } from './config.js';
import { SERVICE } from './constants.js';
import { startService } from './service.js';

await runMain(SERVICE, ({ env, logger }) => startService(loadPromSidecarConfig(env), { logger }));
