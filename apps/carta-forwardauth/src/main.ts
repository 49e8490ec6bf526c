// Entry point: reads the environment, loads the Kubernetes client configuration (in-cluster,
// KUBECONFIG or ~/.kube/config, as loadFromDefault does) and runs the service until a signal.
import { ConfigError, runMain } from '@auth-sidecars/service-kit';
import { KubeConfig } from '@kubernetes/client-node';
import { readConfig } from './config.js';
import { SERVICE_NAME } from './constants.js';
import { startService } from './service.js';

function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError([
      `KUBECONFIG: cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
  const server = kc.getCurrentCluster()?.server;
  // loadFromDefault's last resort when nothing is configured; it can never work here.
  if (!server || server === 'http://localhost:8080') {
    throw new ConfigError([
      'KUBECONFIG: no kubeconfig found (KUBECONFIG, ~/.kube/config) and not running in a cluster',
    ]);
  }
  return kc;
}

await runMain(SERVICE_NAME, async ({ env, logger }) => {
  const config = readConfig(env);
  return startService(config, loadKubeConfig(), logger);
});
