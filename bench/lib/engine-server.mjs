// proxy-kit's forwarder alone on node:http with a static token: isolates the engine's cost from the
// app shell (express, logging, metrics) when profiling.
import http from 'node:http';
import { createForwarder, staticTokenSource } from '@auth-sidecars/proxy-kit';

const forwarder = createForwarder({
  target: process.env.TARGET,
  tokens: staticTokenSource(process.env.TOKEN ?? 'bench-token'),
  ...(process.env.SMALL_BODY_BYTES === undefined
    ? {}
    : { smallBodyBytes: Number(process.env.SMALL_BODY_BYTES) }),
});
const server = http.createServer((req, res) => forwarder.handle(req, res));
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })),
);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
