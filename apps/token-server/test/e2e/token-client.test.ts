// packages/token-client against the real server: AuthServerCredential in an @azure/core-rest-pipeline
// with bearerTokenAuthenticationPolicy authorizes calls to an HTTPS stand-in upstream that verifies
// the JWT (jose against dev-entra's JWKS), as any Azure SDK client would use it.
import https from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import {
  createCertificateAuthority,
  createServerCertificate,
  trustDevEntraCa,
  verifyAccessToken,
} from '@auth-sidecars/dev-entra';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { AuthServerCredential } from '@auth-sidecars/token-client';
import { launchServer, logsMatching, SECRETS, startFixture, VAULT, type Fixture } from './support.js';

interface Upstream {
  url: string;
  seen: Array<{ status: number; aud?: unknown; reason?: string }>;
  close(): Promise<void>;
}

/** An HTTPS API that accepts only dev-entra tokens for `audience`, verified against the JWKS. */
async function startVerifyingUpstream(fx: Fixture, audience: string): Promise<Upstream> {
  const ca = await createCertificateAuthority('upstream test CA');
  const cert = await createServerCertificate(ca);
  trustDevEntraCa(ca.certPem); // the test process's pipeline must trust the upstream
  const seen: Upstream['seen'] = [];
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    verifyAccessToken(token, { audience, issuer: fx.entra.issuer }).then(
      (claims) => {
        seen.push({ status: 200, aud: claims.aud });
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ hello: claims.appid }));
      },
      (err: Error) => {
        seen.push({ status: 401, reason: err.message });
        res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      },
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let fx: Fixture;
let server: LaunchedProcess;
let upstream: Upstream;

beforeAll(async () => {
  fx = await startFixture();
  fx.entra.trust(); // jose fetches the JWKS from dev-entra over https in this process
  server = await launchServer(fx.serverEnv);
  upstream = await startVerifyingUpstream(fx, VAULT);
});

afterAll(async () => {
  await upstream?.close();
  await server?.close();
  await fx?.entra.close();
});

function pipelineWith(credential: AuthServerCredential) {
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: `${VAULT}/.default` }));
  return { pipeline, client: createDefaultHttpClient() };
}

describe('AuthServerCredential with bearerTokenAuthenticationPolicy', () => {
  it('authorizes requests to an upstream that verifies the JWT; tokens come from the cache', async () => {
    const credential = new AuthServerCredential({ serverUrl: server.url, secret: SECRETS.apiOld });
    const { pipeline, client } = pipelineWith(credential);
    fx.entra.resetStats();
    for (let i = 0; i < 5; i++) {
      const res = await pipeline.sendRequest(
        client,
        createPipelineRequest({ url: `${upstream.url}/secrets/x` }),
      );
      expect(res.status).toBe(200);
      expect(JSON.parse(res.bodyAsText ?? '{}')).toEqual({ hello: fx.app.clientId });
    }
    expect(upstream.seen.filter((s) => s.status === 200)).toHaveLength(5);
    expect(upstream.seen.every((s) => s.aud === undefined || s.aud === VAULT)).toBe(true);
    expect(fx.entra.stats().tokenRequests).toBe(1);
    const issued = await logsMatching(server, (l) => l.audit === 'issued' && l.client === 'api');
    expect(issued).toHaveLength(1); // the credential's cache answered the other four
  });

  it('a client whose allow-list lacks the scope cannot authorize: the SDK call fails with 403', async () => {
    const credential = new AuthServerCredential({ serverUrl: server.url, secret: SECRETS.worker });
    const { pipeline, client } = pipelineWith(credential);
    await expect(
      pipeline.sendRequest(client, createPipelineRequest({ url: `${upstream.url}/secrets/x` })),
    ).rejects.toMatchObject({
      name: 'AuthServerError',
      status: 403,
    });
  });

  it('a token for another audience is rejected by the upstream (the check can fail)', async () => {
    const other = await startVerifyingUpstream(fx, 'https://storage.azure.com');
    try {
      const credential = new AuthServerCredential({ serverUrl: server.url, secret: SECRETS.apiOld });
      const { pipeline, client } = pipelineWith(credential);
      const res = await pipeline.sendRequest(client, createPipelineRequest({ url: `${other.url}/x` }));
      expect(res.status).toBe(401);
      expect(other.seen[0]?.reason).toMatch(/aud/);
    } finally {
      await other.close();
    }
  });
});
