// MSAL token cache partitions: one per sign-in, sealed with AES-256-GCM at rest, read and written
// through an MSAL ICachePlugin bound to exactly one partition. A client application built for a
// request therefore sees only that user's account and refresh token - never a shared cache.
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import { STORE_PREFIX } from './constants.js';
import type { CryptoBox } from './crypto-box.js';
import type { KeyValueStore } from './store.js';

export class TokenCachePartitions {
  constructor(
    private readonly store: KeyValueStore,
    private readonly box: CryptoBox,
    readonly ttlMs: number,
  ) {}

  async read(partition: string): Promise<string | undefined> {
    const key = STORE_PREFIX.tokenCache + partition;
    const sealed = await this.store.get(key);
    return sealed === undefined ? undefined : this.box.open(sealed, key);
  }

  async write(partition: string, serialized: string): Promise<void> {
    const key = STORE_PREFIX.tokenCache + partition;
    await this.store.set(key, this.box.seal(serialized, key), this.ttlMs);
  }

  async delete(partition: string): Promise<void> {
    await this.store.delete(STORE_PREFIX.tokenCache + partition);
  }

  /** An ICachePlugin that loads and saves this one partition (MSAL's distributed-cache pattern). */
  plugin(partition: string): ICachePlugin {
    return {
      beforeCacheAccess: async (context: TokenCacheContext) => {
        const serialized = await this.read(partition);
        if (serialized !== undefined) context.tokenCache.deserialize(serialized);
      },
      afterCacheAccess: async (context: TokenCacheContext) => {
        if (context.cacheHasChanged) await this.write(partition, context.tokenCache.serialize());
      },
    };
  }
}
