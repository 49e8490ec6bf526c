// The directory: registered applications (secrets, certificates, federated subjects, redirect URIs,
// roles) and the demo users who can sign in.
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { certificatePemBlocks, certificateThumbprints } from './certs.js';
import { TOKEN_EXCHANGE_AUDIENCE } from './constants.js';
import type { DemoUser, RegisterAppOptions, RegisteredApp } from './model.js';

export interface AppCertificate {
  der: Buffer;
  x5tS256: string;
  pem: string;
}

export interface AppRecord {
  clientId: string;
  name: string;
  servicePrincipalId: string;
  clientSecret?: string;
  /** keyed by SHA-1 upper hex thumbprint */
  certs: Map<string, AppCertificate>;
  federatedSubjects: string[];
  federatedAudience: string;
  redirectUris: string[];
  roles: string[];
  publicClient: boolean;
}

export class Registry {
  /** The demo users; `DevEntra.users` is this very array. */
  readonly users: DemoUser[];
  readonly #apps = new Map<string, AppRecord>();

  constructor(users: readonly DemoUser[]) {
    this.users = users.map((u) => ({ ...u, groups: [...u.groups] }));
  }

  registerApp(options: RegisterAppOptions = {}): RegisteredApp {
    const clientId = options.clientId ?? randomUUID();
    const certs = new Map<string, AppCertificate>();
    const pems = options.certificatePem === undefined ? [] : [options.certificatePem].flat();
    const federatedSubjects = options.federatedSubject === undefined ? [] : [options.federatedSubject].flat();
    const publicClient = options.publicClient ?? false;
    let clientSecret = options.clientSecret;
    if (!clientSecret && pems.length === 0 && federatedSubjects.length === 0 && !publicClient) {
      clientSecret = randomBytes(24).toString('base64url');
    }
    const record: AppRecord = {
      clientId,
      name: options.name ?? `app-${clientId.slice(0, 8)}`,
      servicePrincipalId: this.#apps.get(clientId)?.servicePrincipalId ?? randomUUID(),
      ...(clientSecret ? { clientSecret } : {}),
      certs,
      federatedSubjects,
      federatedAudience: options.federatedAudience ?? TOKEN_EXCHANGE_AUDIENCE,
      redirectUris: [...(options.redirectUris ?? [])],
      roles: [...(options.roles ?? [])],
      publicClient,
    };
    this.#apps.set(clientId, record);
    for (const pem of pems) addCertificates(record, pem);
    return describe(record);
  }

  /** The app's record (what the protocol modules check against), or undefined. */
  app(clientId: string): AppRecord | undefined {
    return this.#apps.get(clientId);
  }

  apps(): IterableIterator<AppRecord> {
    return this.#apps.values();
  }

  getApp(clientId: string): RegisteredApp | undefined {
    const record = this.#apps.get(clientId);
    return record ? describe(record) : undefined;
  }

  listApps(): RegisteredApp[] {
    return [...this.#apps.values()].map(describe);
  }

  addAppCertificate(clientId: string, certificatePem: string): RegisteredApp {
    const record = this.#requireApp(clientId);
    addCertificates(record, certificatePem);
    return describe(record);
  }

  removeAppCertificate(clientId: string, certificatePemOrThumbprint: string): RegisteredApp {
    const record = this.#requireApp(clientId);
    const thumbprint = certificatePemOrThumbprint.includes('BEGIN CERTIFICATE')
      ? certificateThumbprints(certificatePemOrThumbprint).thumbprint
      : certificatePemOrThumbprint.replace(/:/g, '').toUpperCase();
    record.certs.delete(thumbprint);
    return describe(record);
  }

  setAppSecret(clientId: string, clientSecret: string | undefined): RegisteredApp {
    const record = this.#requireApp(clientId);
    if (clientSecret) record.clientSecret = clientSecret;
    else delete record.clientSecret;
    return describe(record);
  }

  addUser(user: DemoUser): DemoUser {
    const copy = { ...user, groups: [...user.groups] };
    this.users.push(copy);
    return copy;
  }

  findUser(upnOrOid: string): DemoUser | undefined {
    const key = upnOrOid.toLowerCase();
    return this.users.find((u) => u.upn.toLowerCase() === key || u.oid === key);
  }

  #requireApp(clientId: string): AppRecord {
    const record = this.#apps.get(clientId);
    if (!record) throw new Error(`dev-entra: no app registered with client id ${clientId}`);
    return record;
  }
}

function addCertificates(record: AppRecord, pem: string): void {
  const blocks = certificatePemBlocks(pem);
  if (blocks.length === 0) throw new Error('dev-entra: certificatePem holds no PEM certificate');
  for (const block of blocks) {
    const der = new X509Certificate(block).raw;
    const t = certificateThumbprints(der);
    record.certs.set(t.thumbprint, { der, x5tS256: t.x5tS256, pem: block });
  }
}

/** The public view of an app (copies: the caller cannot change the registry through it). */
function describe(record: AppRecord): RegisteredApp {
  return {
    clientId: record.clientId,
    name: record.name,
    servicePrincipalId: record.servicePrincipalId,
    ...(record.clientSecret ? { clientSecret: record.clientSecret } : {}),
    thumbprints: [...record.certs.keys()],
    federatedSubjects: [...record.federatedSubjects],
    federatedAudience: record.federatedAudience,
    redirectUris: [...record.redirectUris],
    roles: [...record.roles],
    publicClient: record.publicClient,
  };
}
