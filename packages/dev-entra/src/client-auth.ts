// Client authentication at the token endpoint: a client secret (body or Basic), a certificate
// client assertion (x5t / x5t#S256 / x5c, RS256 or PS256), a federated token from dev-entra's
// Kubernetes issuer, or none for a public client redeeming a code or refresh token.
import { createHash, createPublicKey, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { Request } from 'express';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { certificateThumbprints } from './certs.js';
import { JWT_BEARER } from './constants.js';
import { errors } from './errors.js';
import { str, type Params } from './params.js';
import type { Provider } from './provider.js';
import type { AppRecord } from './registry.js';
import type { LogDetails } from './request-log.js';

export interface ClientAuth {
  app: AppRecord;
  method: 'secret' | 'certificate' | 'federated' | 'none';
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function basicAuth(req: Request): { clientId: string; clientSecret: string } | undefined {
  const header = req.get('authorization');
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

export async function authenticateClient(
  provider: Provider,
  req: Request,
  body: Params,
  details: LogDetails,
): Promise<ClientAuth> {
  const { registry, endpoints } = provider;
  const basic = basicAuth(req);
  const assertion = str(body.client_assertion);
  const secret = str(body.client_secret) ?? basic?.clientSecret;
  let clientId = str(body.client_id) ?? basic?.clientId;
  if (assertion) {
    const type = str(body.client_assertion_type);
    if (type !== JWT_BEARER) throw errors.invalidAssertionType(type ?? '');
    let claims: ReturnType<typeof decodeJwt>;
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      claims = decodeJwt(assertion);
      header = decodeProtectedHeader(assertion);
    } catch (err) {
      throw errors.malformedAssertion(err instanceof Error ? err.message : 'not a JWT');
    }
    if (claims.iss === endpoints.kubernetesIssuer) {
      if (!clientId) throw errors.missingParameter('client_id');
      const app = registry.app(clientId);
      if (!app) throw errors.appNotFound(clientId, endpoints.tenantId);
      details.clientAuth = 'federated';
      await verifyFederated(provider, app, assertion);
      return { app, method: 'federated' };
    }
    clientId ??= str(claims.iss);
    if (!clientId) throw errors.missingParameter('client_id');
    const app = registry.app(clientId);
    if (!app) throw errors.appNotFound(clientId, endpoints.tenantId);
    details.clientAuth = 'certificate';
    await verifyCertificateAssertion(provider, app, assertion, header, claims);
    return { app, method: 'certificate' };
  }
  if (!clientId) throw errors.missingParameter('client_id');
  const app = registry.app(clientId);
  if (!app) throw errors.appNotFound(clientId, endpoints.tenantId);
  if (secret) {
    details.clientAuth = 'secret';
    if (!app.clientSecret || !safeEqual(secret, app.clientSecret)) throw errors.invalidSecret(clientId);
    return { app, method: 'secret' };
  }
  details.clientAuth = 'none';
  if (app.publicClient && str(body.grant_type) !== 'client_credentials') return { app, method: 'none' };
  throw errors.credentialRequired();
}

async function verifyFederated(provider: Provider, app: AppRecord, assertion: string): Promise<void> {
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(assertion, provider.claims.kubernetesPublicKey, {
      algorithms: ['RS256'],
      issuer: provider.endpoints.kubernetesIssuer,
      clockTolerance: 30,
    }));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') throw errors.federatedExpired();
    throw errors.malformedAssertion(`federated token rejected: ${code ?? 'invalid'}`);
  }
  const audiences = [payload.aud ?? []].flat();
  const subject = String(payload.sub ?? '');
  if (!app.federatedSubjects.includes(subject)) {
    throw errors.noFederatedMatch(String(payload.iss), subject, audiences.join(','));
  }
  if (!audiences.includes(app.federatedAudience)) throw errors.federatedAudience(audiences.join(','));
}

async function verifyCertificateAssertion(
  provider: Provider,
  app: AppRecord,
  assertion: string,
  header: ReturnType<typeof decodeProtectedHeader>,
  claims: ReturnType<typeof decodeJwt>,
): Promise<void> {
  const x5tS256 = str(header['x5t#S256']);
  const x5t = str(header.x5t);
  const x5c = Array.isArray(header.x5c) ? header.x5c : undefined;
  let cert: { der: Buffer } | undefined;
  let presented = '';
  if (x5c && x5c.length > 0) {
    const der = Buffer.from(String(x5c[0]), 'base64');
    const t = certificateThumbprints(der);
    presented = t.thumbprint;
    if ((x5tS256 && x5tS256 !== t.x5tS256) || (x5t && x5t !== t.x5t)) {
      throw errors.assertionSignature('x5c certificate does not match the x5t header');
    }
    cert = app.certs.get(t.thumbprint);
  } else if (x5tS256) {
    presented = Buffer.from(x5tS256, 'base64url').toString('hex').toUpperCase();
    cert = [...app.certs.values()].find((c) => c.x5tS256 === x5tS256);
  } else if (x5t) {
    presented = Buffer.from(x5t, 'base64url').toString('hex').toUpperCase();
    cert = app.certs.get(presented);
  } else {
    throw errors.malformedAssertion('the client assertion header has no x5t, x5t#S256 or x5c');
  }
  if (!cert) throw errors.assertionKeyNotFound(presented, app.clientId);
  const publicKey = createPublicKey({
    key: new X509Certificate(cert.der).publicKey.export({ format: 'pem', type: 'spki' }),
  });
  try {
    await jwtVerify(assertion, publicKey, { algorithms: ['RS256', 'PS256'], clockTolerance: 300 });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
      throw errors.assertionExpired();
    throw errors.assertionSignature('Signature validation failed.');
  }
  if (typeof claims.exp !== 'number') throw errors.assertionClaims("the 'exp' claim is missing");
  if (claims.iss !== app.clientId || claims.sub !== app.clientId) {
    throw errors.assertionClaims(`iss and sub must be the client id '${app.clientId}'`);
  }
  const audiences = [claims.aud ?? []].flat();
  if (!audiences.some((aud) => provider.endpoints.isOwnAudience(aud))) {
    throw errors.assertionClaims(
      `the audience '${audiences.join(',')}' is not the token endpoint '${provider.endpoints.tokenEndpoint}'`,
    );
  }
}
