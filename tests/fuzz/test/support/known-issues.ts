// KNOWN ISSUES: inputs the fuzz suite found to break a property in code that another change is
// rewriting (issue 14's other points). They are kept out of the generated requests, and only them:
// every property still holds for everything else, and nothing about them is tolerated silently —
// each run prints how many generated requests each entry kept out. Empty this list when the fix
// lands; the fixed seed then sends these inputs again.
import type { RequestSpec } from './spec.js';

export type AppName = 'openai-proxy' | 'prom-sidecar' | 'token-server' | 'carta-forwardauth' | 'aks-broker';

export interface KnownIssue {
  id: string;
  app: AppName;
  /** Where it is being fixed. */
  tracking: string;
  /** The property that breaks and how. */
  breaks: string;
  /** One exact failing request as found by the fuzzer (wire text). */
  example: string;
  /** True for generated requests of this class (before placeholders are filled in). */
  matches(spec: RequestSpec): boolean;
}

/** A target a proxy must refuse (issue 14.4): neither origin-form nor absolute-form. */
function notOriginOrAbsoluteForm(spec: RequestSpec): boolean {
  return !/^(\/|https?:\/\/|\{\{origin\}\})/i.test(spec.target);
}

/** The scope or resource a token request names, if its query names one. */
function requestedScope(spec: RequestSpec): string | undefined {
  const query = new URLSearchParams(spec.target.split('?')[1]?.split('#')[0] ?? '');
  return query.get('scope') ?? query.get('resource') ?? undefined;
}

/**
 * The CARTA session a URI (path or absolute URL) names: `/session/carta/[http/|ws/]<id>` at the start
 * of its path, after percent-decoding (leniently: an oracle must not be stricter than the app).
 */
export function cartaSessionIn(uri: string): string | undefined {
  // `{{origin}}` is the app's own origin, filled in at send time.
  let path = uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#]*|\{\{origin\}\})/i, '').split(/[?#]/)[0] ?? '';
  for (let i = 0; i < 3; i++) {
    try {
      const decoded = decodeURIComponent(path);
      if (decoded === path) break;
      path = decoded;
    } catch {
      break;
    }
  }
  return /^\/session\/carta\/(?:(?:http|ws)\/)?([a-z0-9]+)(?=\/|$)/i.exec(path)?.[1];
}

function headerValues(spec: RequestSpec, name: RegExp): string[] {
  return spec.headers.filter(([k]) => name.test(k.trim())).map(([, v]) => v);
}

/** Sessions named where carta-forwardauth looks first: X-Forwarded-Uri, X-Original-URI, the request line. */
export function cartaUriSessions(target: string, headers: Array<[string, string]>): string[] {
  const uris = [
    target,
    ...headers.filter(([k]) => /^x-(forwarded-uri|original-uri)$/i.test(k.trim())).map(([, v]) => v),
  ];
  return uris
    .flatMap((u) => (u.startsWith('/') ? [cartaSessionIn(u)] : []))
    .filter((id): id is string => id !== undefined);
}

const PROBE_PATHS = new Set(['/livez', '/readyz', '/metrics']);

export const KNOWN_ISSUES: readonly KnownIssue[] = [
  {
    id: 'proxy-asterisk-target-502',
    app: 'openai-proxy',
    tracking: 'issue 14 point 4 (proxy-kit refuses targets that do not start with a single /)',
    breaks:
      'no own 5xx: undici refuses the path, the forwarder answers 502 "upstream unreachable (UND_ERR_INVALID_ARG)"',
    example: 'GET * HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n',
    matches: notOriginOrAbsoluteForm,
  },
  {
    id: 'token-server-wildcard-spans-labels',
    app: 'token-server',
    tracking: 'issue 14 point 5 (token-server: `*` in an allow-list pattern matches one DNS label)',
    breaks:
      'the allow-list: client api (`https://*.vault.azure.net`) gets tokens for https://evil.example/x.vault.azure.net, https://a.b.vault.azure.net and https://.vault.azure.net',
    example:
      'GET /token?scope=https%3A%2F%2Fevil.example%2Fx.vault.azure.net HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nAuthorization: Bearer <api secret>\r\n\r\n',
    matches: (spec) => {
      const scope = requestedScope(spec);
      return (
        scope !== undefined &&
        /vault\.azure\.net/i.test(scope) &&
        !/^https:\/\/[a-z0-9-]+\.vault\.azure\.net(\/\.default)?\/?$/i.test(scope)
      );
    },
  },
  {
    id: 'carta-referer-grants-session',
    app: 'carta-forwardauth',
    tracking: 'issue 14 point 6 (carta: the Referer fallback opt-in, http(s) only, asset prefixes only)',
    breaks:
      'identity: a request whose URI names no session is allowed as the user of the session its Referer names (javascript:// Referers included)',
    example:
      'GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: carta.example.org\r\nX-Forwarded-Uri: /admin/secret\r\nX-Forwarded-For: 203.0.113.9\r\nReferer: https://evil.example/session/carta/svc1\r\n\r\n',
    matches: (spec) =>
      headerValues(spec, /^referer$/i).some((r) => cartaSessionIn(r) !== undefined) &&
      cartaUriSessions(spec.target, spec.headers).length === 0,
  },
  {
    id: 'carta-probe-paths-allow',
    app: 'carta-forwardauth',
    tracking: 'issue 14 point 6 (carta: probes on a separate port, so a forwarded /livez is a decision)',
    breaks:
      'identity: GET or HEAD /livez, /readyz, /metrics on the decision port answer 200 (an allow) for nobody',
    example: 'GET /livez HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nReferer: /livez\r\n\r\n',
    // node:http reads `GET  /livez` and `/livez#x` as the probe too.
    matches: (spec) =>
      ['GET', 'HEAD'].includes(spec.method.trim()) &&
      PROBE_PATHS.has(spec.target.trim().split(/[?#]/)[0] ?? ''),
  },
];

export function knownIssuesOf(app: AppName): readonly KnownIssue[] {
  return KNOWN_ISSUES.filter((k) => k.app === app);
}
