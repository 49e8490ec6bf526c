// Paths and small helpers shared by the deploy checks.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const repoRoot = resolve(import.meta.dirname, '../../../..');
export const chartDir = resolve(repoRoot, 'helm/auth-sidecars');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

export function helmBinary(): string {
  return execFileSync(process.execPath, [resolve(repoRoot, 'scripts/ensure-helm.mjs')], {
    encoding: 'utf8',
  }).trim();
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}
