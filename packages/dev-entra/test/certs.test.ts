// Certificate generation: CA-signed TLS server certificate, client certificates and their thumbprints.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  certificateThumbprints,
  createCertificateAuthority,
  createClientCertificate,
  createServerCertificate,
} from '../src/index.js';

function get(url: string, options: https.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ...options, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe('certificates', () => {
  it('issues a TLS server certificate for 127.0.0.1 and localhost that verifies against the CA only', async () => {
    const ca = await createCertificateAuthority();
    const server = await createServerCertificate(ca);
    expect(ca.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(server.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    const x509 = new X509Certificate(server.certPem);
    expect(x509.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x509.subjectAltName).toContain('DNS:localhost');
    expect(new X509Certificate(ca.certPem).ca).toBe(true);

    const srv = https.createServer({ cert: server.certPem, key: server.keyPem }, (_req, res) =>
      res.end('ok'),
    );
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as AddressInfo).port;
    try {
      await expect(get(`https://127.0.0.1:${port}/`, { ca: ca.certPem })).resolves.toBe(200);
      await expect(
        get(`https://localhost:${port}/`, {
          ca: ca.certPem,
          lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
        }),
      ).resolves.toBe(200);
      const other = await createCertificateAuthority();
      await expect(get(`https://127.0.0.1:${port}/`, { ca: other.certPem })).rejects.toThrow();
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('creates client certificates with a matching PKCS#8 key and SHA-1/SHA-256 thumbprints', async () => {
    const cert = await createClientCertificate({ subject: 'my-app' });
    const x509 = new X509Certificate(cert.certPem);
    expect(x509.subject).toContain('CN=my-app');
    expect(x509.checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
    expect(cert.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(cert.pem).toBe(`${cert.certPem}${cert.keyPem}`);
    expect(cert.thumbprint).toBe(x509.fingerprint.replace(/:/g, ''));
    expect(cert.thumbprintSha256).toBe(x509.fingerprint256.replace(/:/g, ''));
    expect(Buffer.from(cert.x5t, 'base64url').toString('hex').toUpperCase()).toBe(cert.thumbprint);
    expect(Buffer.from(cert.x5tS256, 'base64url').toString('hex').toUpperCase()).toBe(cert.thumbprintSha256);
    expect(certificateThumbprints(cert.pem)).toEqual({
      thumbprint: cert.thumbprint,
      thumbprintSha256: cert.thumbprintSha256,
      x5t: cert.x5t,
      x5tS256: cert.x5tS256,
    });
    const another = await createClientCertificate();
    expect(another.thumbprint).not.toBe(cert.thumbprint);
  });
});
