// The ForwardAuth decision: which session id does this request claim (Traefik X-Forwarded-Uri,
// nginx X-Original-URI, Envoy's original path on the request line, and, only where configured, the
// Referer of an asset request), is the claim unambiguous, and who owns that session according to
// the cluster.
import type { SessionLookup } from './session-index.js';
import {
  sessionFromPath,
  sessionFromReferer,
  underPrefix,
  type InvalidReason,
  type PathResult,
  type PathRules,
} from './session-path.js';

export type DenyReason =
  | InvalidReason
  | 'no_session'
  | 'duplicate_header'
  | 'conflicting_session_ids'
  | 'unknown_session'
  | 'conflicting_owners';

export type UriSource = 'x-forwarded-uri' | 'x-original-uri' | 'request-line' | 'referer';

export type Decision =
  | { result: 'allow'; sessionId: string; userId: string; source: UriSource }
  | { result: 'deny'; reason: DenyReason; sessionId?: string; source?: UriSource }
  /** The index cannot answer (never synced, or stale past the grace period). */
  | { result: 'unavailable'; sessionId: string; source: UriSource };

export interface DecisionInput {
  /** Request target of the auth request itself (Envoy ext_authz: the original path). */
  requestTarget: string;
  /** Every value of each header, as received (more than one value is refused). */
  forwardedUri?: string[];
  originalUri?: string[];
  referer?: string[];
}

export interface DecisionOptions {
  rules: PathRules;
  /** Stripped from the request line first (Envoy `path_prefix`). */
  authPathPrefix?: string;
  /**
   * The Referer fallback, off when undefined (the Referer is then not read at all). Any client can
   * write a Referer, so a URI that names no session may borrow the Referer's session only below
   * these paths (static assets), never for an arbitrary URI such as `/admin/`.
   */
  refererAssetPrefixes?: readonly string[];
}

export interface SessionIndexReader {
  lookup(sessionId: string): SessionLookup;
}

export function decide(input: DecisionInput, index: SessionIndexReader, options: DecisionOptions): Decision {
  const assets = options.refererAssetPrefixes;
  const referer = assets ? input.referer : undefined;
  for (const values of [input.forwardedUri, input.originalUri, referer]) {
    if (values && values.length > 1) return { result: 'deny', reason: 'duplicate_header' };
  }
  const rules = options.rules;
  const primaries: Array<[UriSource, PathResult]> = [];
  if (input.forwardedUri) primaries.push(['x-forwarded-uri', sessionFromPath(input.forwardedUri[0]!, rules)]);
  if (input.originalUri) primaries.push(['x-original-uri', sessionFromPath(input.originalUri[0]!, rules)]);
  primaries.push([
    'request-line',
    sessionFromPath(stripPrefix(input.requestTarget, options.authPathPrefix), rules),
  ]);

  let claimed: { id: string; source: UriSource } | undefined;
  for (const [source, r] of primaries) {
    if (r.kind === 'invalid') return { result: 'deny', reason: r.reason, source };
    if (r.kind === 'session') {
      if (claimed && claimed.id !== r.id)
        return { result: 'deny', reason: 'conflicting_session_ids', sessionId: claimed.id, source };
      claimed ??= { id: r.id, source };
    }
  }
  // A proxy sets one URI header; with both present, the other came from the client. They must
  // agree, also on naming no session, or a client could lend a session to a URI that names none.
  if (input.forwardedUri && input.originalUri && primaries[0]![1].kind !== primaries[1]![1].kind)
    return {
      result: 'deny',
      reason: 'conflicting_session_ids',
      sessionId: claimed?.id,
      source: 'x-original-uri',
    };
  if (referer && assets) {
    // Nothing claimed: every source named no session, and the first one present is the URI.
    const uri = primaries[0]![1];
    if (!claimed && !(uri.kind === 'none' && underPrefix(uri.path, assets)))
      return { result: 'deny', reason: 'no_session' };
    const r = sessionFromReferer(referer[0]!, rules);
    if (r.kind === 'invalid') return { result: 'deny', reason: r.reason, source: 'referer' };
    if (r.kind === 'session') {
      // The URI wins over the Referer, but a Referer naming another session is a forged request.
      if (claimed && claimed.id !== r.id)
        return {
          result: 'deny',
          reason: 'conflicting_session_ids',
          sessionId: claimed.id,
          source: 'referer',
        };
      claimed ??= { id: r.id, source: 'referer' };
    }
  }
  if (!claimed) return { result: 'deny', reason: 'no_session' };

  const found = index.lookup(claimed.id);
  switch (found.kind) {
    case 'owner':
      return { result: 'allow', sessionId: claimed.id, userId: found.userId, source: claimed.source };
    case 'conflict':
      return { result: 'deny', reason: 'conflicting_owners', sessionId: claimed.id, source: claimed.source };
    case 'unknown':
      return { result: 'deny', reason: 'unknown_session', sessionId: claimed.id, source: claimed.source };
    case 'unavailable':
      return { result: 'unavailable', sessionId: claimed.id, source: claimed.source };
  }
}

function stripPrefix(target: string, prefix: string | undefined): string {
  if (!prefix) return target;
  if (target === prefix) return '/';
  return target.startsWith(prefix) && /[/?#]/.test(target.charAt(prefix.length))
    ? target.slice(prefix.length)
    : target;
}
