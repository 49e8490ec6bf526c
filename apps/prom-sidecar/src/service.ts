// Wires the service: proxy-kit's token-injecting proxy (credential, token provider, forwarder,
// server) with this app's upstream and routes; shared by main.ts and the tests.
import { startTokenProxy, type RunningTokenProxy } from '@auth-sidecars/proxy-kit';
import type { Logger } from '@auth-sidecars/service-kit';
import { createListener } from './app.js';
import type { PromSidecarConfig } from './config.js';
import { SERVICE, WARM_UP_REQUESTS } from './constants.js';

export function startService(
  config: Readonly<PromSidecarConfig>,
  { logger }: { logger: Logger },
): Promise<RunningTokenProxy> {
  return startTokenProxy(
    SERVICE,
    { upstream: (c) => c.queryEndpoint, createListener, warmUpRequests: () => WARM_UP_REQUESTS },
    config,
    { logger },
  );
}
