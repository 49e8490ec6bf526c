// Entry point: the environment -> config -> the service (service.ts), until SIGTERM/SIGINT.
import { runMain } from '@auth-sidecars/service-kit';
import { loadTokenServerConfig } from './config.js';
import { SERVICE } from './constants.js';
import { startService } from './service.js';

await runMain(SERVICE, ({ env, logger }) => startService(loadTokenServerConfig(env), { logger }), {
  // One audit line per issuance: written in batches, one stdout write per event-loop turn.
  logBatchDefault: true,
});
