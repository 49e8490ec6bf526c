// Engine-only benchmark: direct vs nginx vs proxy-kit's forwarder on bare node:http (static token).
// Used while tuning the hot path; the app benchmarks are openai-proxy.mjs and prom-sidecar.mjs.
import { startNginx } from '@auth-sidecars/testkit/nginx';
import { compare, startChild } from './lib/harness.mjs';

const here = import.meta.dirname;
const upstream = await startChild(`${here}/lib/upstream-server.mjs`, { args: ['openai'] });
const nginx = await startNginx({ upstream: upstream.url, setHeaders: { Authorization: 'Bearer bench-token' }, clearHeaders: ['api-key'] });
const engine = await startChild(`${here}/lib/engine-server.mjs`, { env: { TARGET: upstream.url } });
try {
  await compare({
    title: 'proxy-kit engine (GET /v1/models)',
    request: { path: '/v1/models' },
    appPid: engine.pid,
    targets: [
      { name: 'direct', url: upstream.url },
      { name: 'nginx', url: nginx.url },
      { name: 'app', label: 'proxy-kit', url: engine.url },
    ],
  });
} finally {
  await Promise.all([engine.close(), nginx.close(), upstream.close()]);
}
