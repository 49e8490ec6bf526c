// Audit: one JSON line per Kubernetes call the broker makes for a user (who, verb, resource,
// namespace, status, request id). Never a token, never a query string.
import type { Logger } from '@auth-sidecars/service-kit';

export interface KubeRequestAttributes {
  verb: string;
  apiGroup: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The Kubernetes authorizer view of a request path (same rules as the API server's request info). */
export function kubeAttributes(method: string, path: string, query: URLSearchParams): KubeRequestAttributes {
  const seg = path.split('/').filter(Boolean).map(safeDecode);
  let apiGroup = '';
  let rest: string[] = [];
  if (seg[0] === 'api' && seg.length >= 2) rest = seg.slice(2);
  else if (seg[0] === 'apis' && seg.length >= 3) [apiGroup, rest] = [seg[1]!, seg.slice(3)];
  else return { verb: method.toLowerCase(), apiGroup: '', resource: undefined };
  let watch = queryFlag(query, 'watch');
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  const named = name !== undefined;
  let verb: string;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = watch ? 'watch' : named ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = named ? 'delete' : 'deletecollection';
      break;
    default:
      verb = method.toLowerCase();
  }
  return { verb, apiGroup, resource, name, subresource, namespace };
}

/**
 * A boolean query parameter as the API server reads it (Go's Convert_Slice_string_To_bool): only
 * "", "0" and "false" (any case) are false, so `watch=yes` is a watch. Any true value counts,
 * whichever one the server picks, so a stream can never pass for a plain request.
 */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  return query.getAll(name).some((v) => v !== '' && v !== '0' && v.toLowerCase() !== 'false');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface AuditRecord extends KubeRequestAttributes {
  user: string;
  oid: string;
  /** The browser's session cookie or a kubectl credential (then with its id, never its secret). */
  via?: 'session' | 'credential';
  credentialId?: string;
  status: number;
  requestId?: string;
  durationMs: number;
  path: string;
  aborted?: boolean;
  /** The stream was ended by the broker because its credential was revoked or its sign-in ended. */
  credentialEnded?: boolean;
}

export class AuditLog {
  private readonly log: Logger;

  constructor(logger: Logger) {
    this.log = logger.child({ component: 'audit' });
  }

  record(entry: AuditRecord): void {
    this.log.info('kube request', { audit: true, ...entry });
  }
}
