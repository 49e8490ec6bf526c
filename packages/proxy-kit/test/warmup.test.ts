// warmUp: the app's own listener and a forwarder run the warm-up requests against a loopback
// stand-in with a placeholder token, nothing else is reached, and everything it opened is closed.
import type { IncomingMessage } from 'node:http';
import { warmUp, type WarmUpRequest } from '../src/index.js';

const requests: WarmUpRequest[] = [
  { method: 'GET', path: '/v1/models?x=1', headers: { 'api-key': 'client-key' } },
  { method: 'POST', path: '/v1/chat', headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
];

describe('warmUp', () => {
  it('sends each request through the listener and the forwarder, rounds times, to a loopback upstream', async () => {
    const seen: Array<{ method?: string; url?: string; status: number; body: string }> = [];
    let target = '';
    await warmUp({
      service: 'test',
      level: 'info',
      requests,
      rounds: 2,
      forwarder: {},
      listener: ({ forwarder, logger, metrics }) => {
        target = forwarder.target.origin;
        expect(metrics.registry.getSingleMetric('process_cpu_seconds_total')).toBeUndefined();
        return (req: IncomingMessage, res) => {
          logger.info('request', { path: req.url });
          const end = res.end.bind(res);
          const chunks: Buffer[] = [];
          const write = res.write.bind(res);
          res.write = ((chunk: Buffer) => (
            chunks.push(Buffer.from(chunk)),
            write(chunk)
          )) as typeof res.write;
          res.end = ((chunk?: Buffer) => {
            if (chunk) chunks.push(Buffer.from(chunk));
            seen.push({
              method: req.method,
              url: req.url,
              status: res.statusCode,
              body: Buffer.concat(chunks).toString(),
            });
            return end(chunk);
          }) as typeof res.end;
          forwarder.handle(req, res);
        };
      },
    });
    expect(new URL(target).hostname).toBe('127.0.0.1');
    expect(seen).toEqual([
      { method: 'GET', url: '/v1/models?x=1', status: 200, body: '{}' },
      { method: 'POST', url: '/v1/chat', status: 200, body: '{}' },
      { method: 'GET', url: '/v1/models?x=1', status: 200, body: '{}' },
      { method: 'POST', url: '/v1/chat', status: 200, body: '{}' },
    ]);
  });

  it('resolves when the listener fails its requests (a colder path, never a reason not to start)', async () => {
    await expect(
      warmUp({
        service: 'test',
        level: 'info',
        requests,
        forwarder: {},
        listener: () => (req) => req.socket.destroy(),
      }),
    ).resolves.toBeUndefined();
  });
});
