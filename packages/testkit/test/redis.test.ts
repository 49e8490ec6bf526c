import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { startRedis } from '../src/redis.js';

describe('startRedis', () => {
  it('runs redis-server on a loopback port with a password and a temp dir, and cleans up', async () => {
    const redis = await startRedis();
    expect(redis.url).toMatch(/^redis:\/\/:[0-9a-f]+@127\.0\.0\.1:\d+\/0$/);
    expect(existsSync(redis.dir)).toBe(true);
    // Without AUTH the server refuses commands.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(redis.port, '127.0.0.1', () => socket.write('*1\r\n$4\r\nPING\r\n'));
      socket.setEncoding('utf8');
      socket.once('data', (d: string) => {
        socket.destroy();
        resolve(d);
      });
      socket.once('error', reject);
    });
    expect(answer).toMatch(/^-NOAUTH/);
    await redis.close();
    expect(existsSync(redis.dir)).toBe(false);
    expect(redis.child.exitCode !== null || redis.child.signalCode !== null).toBe(true);
  });

  it('two servers at once get different ports', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    try {
      expect(a.port).not.toBe(b.port);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
