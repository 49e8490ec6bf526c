// KNOWN ISSUES: inputs the fuzz suite found to break a property in code that another change is
// rewriting. They are kept out of the generated requests, and only them: every property still holds
// for everything else, and nothing about them is tolerated silently — each run prints how many
// generated requests each entry kept out. Empty this list when the fix lands; the fixed seed then
// sends these inputs again.
//
// Empty: the entries of issue 14 (proxy `*` targets, token-server wildcard labels, carta's Referer
// fallback and probe paths on the decision port) were fixed, and the seed sends those inputs again.
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

export const KNOWN_ISSUES: readonly KnownIssue[] = [];

export function knownIssuesOf(app: AppName): readonly KnownIssue[] {
  return KNOWN_ISSUES.filter((k) => k.app === app);
}
