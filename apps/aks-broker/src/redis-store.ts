// Redis backend of KeyValueStore (ioredis): SET PX for expiry, GETDEL for single-use reads, every
// key under a configurable prefix so several brokers can share one Redis.
import { Redis } from 'ioredis';
import type { KeyValueStore } from './store.js';

export class RedisStore implements KeyValueStore {
  readonly kind = 'redis' as const;

  constructor(
    readonly client: Redis,
    private readonly prefix = '',
  ) {}

  /** Connects eagerly so a wrong URL or password fails at startup, not on the first sign-in. */
  static async connect(url: string, prefix = ''): Promise<RedisStore> {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    await client.connect();
    return new RedisStore(client, prefix);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    await this.client.set(this.prefix + key, value, 'PX', Math.ceil(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    return (await this.client.set(this.prefix + key, value, 'PX', Math.ceil(ttlMs), 'NX')) === 'OK';
  }

  async take(key: string): Promise<string | undefined> {
    return (await this.client.getdel(this.prefix + key)) ?? undefined;
  }

  async delete(key: string): Promise<void> {
    await this.client.del(this.prefix + key);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
