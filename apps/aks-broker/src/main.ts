// Process entry: the environment -> config -> the service (service.ts), until SIGTERM/SIGINT.
import { runMain } from '@auth-sidecars/service-kit';
import { loadBrokerConfig } from './config.js';
import { SERVICE } from './constants.js';
import { startService } from './service.js';

await runMain(SERVICE, ({ env, logger }) => startService(loadBrokerConfig(env), { logger }));
