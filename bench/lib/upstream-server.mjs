// Benchmark upstream in its own process. `openai`: the testkit OpenAI stand-in (bearer JWT checked
// against JWKS_URL/AUDIENCE when set, cached per token). `prometheus`: a canned Prometheus
// /api/v1/query answer behind the same bearer check, so the proxy, not PromQL, is measured.
import http from 'node:http';
import { jwksVerifier, startOpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';

const kind = process.argv[2] ?? 'openai';
const verify = process.env.JWKS_URL
  ? jwksVerifier({ jwksUrl: process.env.JWKS_URL, audience: process.env.AUDIENCE, caPem: process.env.CA_PEM })
  : false;

if (kind === 'openai') {
  const upstream = await startOpenAiUpstream({ verify, recordLimit: 0 });
  console.log(JSON.stringify({ url: upstream.url }));
} else {
  const body = JSON.stringify({
    status: 'success',
    data: {
      resultType: 'vector',
      result: [
        {
          metric: { __name__: 'up', job: 'prometheus', instance: '127.0.0.1:9090' },
          value: [1764000000, '1'],
        },
      ],
    },
  });
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    const ok = () => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const deny = () => {
      req.resume();
      res.writeHead(401, { 'content-length': 0 });
      res.end();
    };
    if (verify === false) return ok();
    if (!auth?.startsWith('Bearer ')) return deny();
    verify(auth.slice(7)).then(ok, deny);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () =>
    console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })),
  );
}
process.on('SIGTERM', () => process.exit(0));
