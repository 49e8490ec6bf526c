// Real dependencies from config: the store (Redis when REDIS_URL is set, memory otherwise), the
// sealing key, MSAL, the API server client and the rate limiter. Used by main.ts and by tests
// that run the app in-process, so both wire it the same way.
import { readFile } from 'node:fs/promises';
import type { Logger } from '@auth-sidecars/service-kit';
import type { BrokerConfig } from './config.js';
import { CryptoBox } from './crypto-box.js';
import { EntraClient } from './entra.js';
import { KubeClient } from './kube.js';
import type { BrokerMetrics } from './metrics.js';
import { createRateLimiter } from './rate-limit.js';
import { RedisStore } from './redis-store.js';
import { MemoryStore, type KeyValueStore } from './store.js';
import { TokenCachePartitions } from './token-cache.js';

export interface BuiltDeps {
  store: KeyValueStore;
  box: CryptoBox;
  partitions: TokenCachePartitions;
  entra: EntraClient;
  kube: KubeClient;
  rateLimiter: ReturnType<typeof createRateLimiter>;
  /** PUBLIC_CA_FILE's PEM (for kubeconfigs), read once at start. */
  publicCaPem?: string;
  close(): Promise<void>;
}

export async function buildDeps(
  config: BrokerConfig,
  options: { logger: Logger; brokerMetrics?: BrokerMetrics },
): Promise<BuiltDeps> {
  const { logger } = options;
  const store: KeyValueStore = config.redis
    ? await RedisStore.connect(config.redis.url, {
        prefix: config.redis.keyPrefix,
        timeoutMs: config.redis.timeoutMs,
      })
    : new MemoryStore();
  // Without Redis nothing leaves the process, so a per-process key is enough when none is configured.
  const box = config.cacheEncryptionKey ? new CryptoBox(config.cacheEncryptionKey) : CryptoBox.random();
  const partitions = new TokenCachePartitions(store, box, config.session.ttlMs);
  const entra = new EntraClient(
    {
      ...config.entra,
      redirectUri: config.redirectUri,
      logger,
      onAcquire: (result) => options.brokerMetrics?.tokenAcquisitions.inc({ result }),
    },
    partitions,
  );
  let ca: string | undefined;
  try {
    ca = await readFile(config.kube.caFile, 'utf8');
  } catch (error) {
    logger.warn('cluster CA file not readable; using the default trust store for the API server', {
      caFile: config.kube.caFile,
      reason: (error as Error).message,
    });
  }
  // Unlike the cluster CA, a PUBLIC_CA_FILE that was named must be readable: a kubeconfig without it
  // would leave kubectl distrusting the broker.
  const publicCaPem = config.cli.publicCaFile ? await readFile(config.cli.publicCaFile, 'utf8') : undefined;
  const kube = new KubeClient({ apiUrl: config.kube.apiUrl, ca, timeoutMs: config.kube.requestTimeoutMs });
  const rateLimiter = createRateLimiter({
    ...config.rateLimit,
    redis:
      store instanceof RedisStore && config.redis
        ? { client: store.client, keyPrefix: config.redis.keyPrefix }
        : undefined,
  });
  return {
    store,
    box,
    partitions,
    entra,
    kube,
    rateLimiter,
    publicCaPem,
    close: async () => {
      kube.close();
      await store.close();
    },
  };
}
