// openai-proxy entry point: the shared token-injecting proxy shell with the seed's configuration,
// forwarding requests and WebSocket upgrades to API_BASE_URL.
import { runTokenProxy } from '@auth-sidecars/proxy-kit';
import { createListener, upgradePolicy } from './app.js';
import { loadOpenAiProxyConfig } from './config.js';
import { SERVICE, WARM_UP_REQUESTS } from './constants.js';

await runTokenProxy(SERVICE, {
  loadConfig: loadOpenAiProxyConfig,
  upstream: (config) => config.apiBaseUrl,
  createListener,
  upgrades: upgradePolicy,
  warmUpRequests: () => WARM_UP_REQUESTS,
});
