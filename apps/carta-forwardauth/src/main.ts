// Entry point: the environment -> config -> the service (service.ts), until SIGTERM/SIGINT. The
// Kubernetes client configuration is in-cluster, KUBECONFIG or ~/.kube/config (loadKubeConfig).
import { runMain } from '@auth-sidecars/service-kit';
import { readConfig } from './config.js';
import { SERVICE } from './constants.js';
import { startService } from './service.js';

await runMain(SERVICE, ({ env, logger }) => startService(readConfig(env), { logger }));
