// Redis backend of KeyValueStore (ioredis): SET PX for expiry, GETDEL for single-use reads, SET NX
// for claims, every key under a configurable prefix so several brokers can share one Redis. Every
// command has a deadline: a Redis that stops answering (paused, partitioned, overloaded) makes
// requests fail with 503 store_unavailable in that time, never hang.
import { Redis } from 'ioredis';
import { ServiceUnavailableError } from '@auth-sidecars/service-kit';
import type { KeyValueStore } from './store.js';

export interface RedisStoreOptions {
  /** Prefix of every key. */
  prefix?: string;
  /** Connecting, and every command (queued ones included), must finish within this. Default 2 s. */
  timeoutMs?: number;
}

/** The store did not answer (in time): the request cannot be served now. */
export class StoreUnavailableError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super('the session store is not answering; retry later', 'store_unavailable', { cause });
  }
}

export class RedisStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  private readonly prefix: string;

  constructor(
    readonly client: Redis,
    prefix = '',
  ) {
    this.prefix = prefix;
  }

  /** Connects eagerly so a wrong URL or password, or a Redis that does not answer, fails at startup. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
    });
    // connectTimeout covers the TCP connect only; the handshake after it (AUTH, the ready check)
    // is bounded here, so a Redis that accepts connections but never answers fails startup too.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Redis did not become ready within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      client.disconnect();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return new RedisStore(client, options.prefix);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.run(() => this.client.get(this.prefix + key))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    await this.run(() => this.client.set(this.prefix + key, value, 'PX', Math.ceil(ttlMs)));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    const answer = await this.run(() =>
      this.client.set(this.prefix + key, value, 'PX', Math.ceil(ttlMs), 'NX'),
    );
    return answer === 'OK';
  }

  async take(key: string): Promise<string | undefined> {
    return (await this.run(() => this.client.getdel(this.prefix + key))) ?? undefined;
  }

  async delete(key: string): Promise<void> {
    await this.run(() => this.client.del(this.prefix + key));
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

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}
