// Engine-only benchmark: direct vs nginx vs proxy-kit's forwarder on bare node:http with a static
// token (no express, logging or metrics): separates the engine's cost from the app shell's.
import { startNginx } from '@auth-sidecars/testkit/nginx';
import { machineNote, measureAll, nginxWorkerPid, printMeasurements, startChild } from './lib/harness.mjs';

const here = import.meta.dirname;
const upstream = await startChild(`${here}/lib/upstream-server.mjs`, { args: ['openai'] });
const nginx = await startNginx({
  upstream: upstream.url,
  setHeaders: { Authorization: 'Bearer bench-token' },
  clearHeaders: ['api-key'],
});
const engine = await startChild(`${here}/lib/engine-server.mjs`, { env: { TARGET: upstream.url } });
try {
  console.log(`proxy-kit engine benchmark - ${machineNote()}`);
  const targets = [
    { name: 'direct', url: upstream.url, pid: upstream.pid },
    { name: 'nginx', label: 'nginx (1 worker)', url: nginx.url, pid: nginxWorkerPid(nginx.pid) },
    { name: 'app', label: 'proxy-kit on node:http', url: engine.url, pid: engine.pid, sampleRss: true },
  ];
  printMeasurements('GET /v1/models', targets, await measureAll(targets, { path: '/v1/models' }));
} finally {
  await Promise.all([engine.close(), nginx.close(), upstream.close()]);
}
