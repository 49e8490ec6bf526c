// Wires the service: proxy-kit's token-injecting proxy (credential, token provider, forwarder,
// server) with this app's upstream, routes and WebSocket policy; shared by main.ts and the tests.
import { startTokenProxy, type RunningTokenProxy } from '@auth-sidecars/proxy-kit';
import type { Logger } from '@auth-sidecars/service-kit';
import { createListener, upgradePolicy } from './app.js';
import type { OpenAiProxyConfig } from './config.js';
import { SERVICE, WARM_UP_REQUESTS } from './constants.js';

export function startService(
  config: Readonly<OpenAiProxyConfig>,
  { logger }: { logger: Logger },
): Promise<RunningTokenProxy> {
  return startTokenProxy(
    SERVICE,
    {
      upstream: (c) => c.apiBaseUrl,
      createListener,
      upgrades: upgradePolicy,
      warmUpRequests: () => WARM_UP_REQUESTS,
    },
    config,
    { logger },
  );
}
