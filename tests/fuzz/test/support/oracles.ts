// The properties every app must keep, whatever it is sent: no 5xx of its own making, and never a
// secret, token, marker or stack trace in a response or a log line. App-specific properties (whose
// identity a response carries) are added by each app's test.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { ParsedResponse } from './raw-client.js';
import { MARKER_PATTERN } from './spec.js';

/** A JWT-shaped string: what an access, ID or federated token looks like anywhere. */
export const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;

/**
 * Stack frames (`    at fn (/path/file.js:1:2)`, `at node:internal/...`), serialized `stack`
 * fields and file:line:column references into the code: any of them in a response or log line
 * means an error was shown, not handled.
 */
const STACK_PATTERNS: RegExp[] = [
  /(?:^|\n|\\n)\s*at\s+\S[^\n]*?(?:\(|\s)(?:\/|node:|file:)[^\s()]*:\d+:\d+\)?/,
  /"stack"\s*:/,
  /\/(?:dist|src|node_modules)\/[\w@./-]+\.(?:js|ts|mjs|cjs):\d+:\d+/,
  /node:internal\//,
];

export function findStackTrace(text: string): string | undefined {
  for (const pattern of STACK_PATTERNS) {
    const m = pattern.exec(text);
    if (m) return excerpt(text, m.index, m[0].length);
  }
  return undefined;
}

/** Where `needle` occurs in `text`, as a short excerpt, or undefined. */
export function findSecret(text: string, needle: string): string | undefined {
  if (needle.length === 0) return undefined;
  const at = text.indexOf(needle);
  return at === -1 ? undefined : excerpt(text, at, needle.length);
}

export function findPattern(text: string, pattern: RegExp): string[] {
  return [
    ...text.matchAll(
      new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`),
    ),
  ].map((m) => m[0]);
}

export function findMarkers(text: string): string[] {
  return findPattern(text, MARKER_PATTERN);
}

function excerpt(text: string, at: number, length: number): string {
  const from = Math.max(0, at - 60);
  return JSON.stringify(text.slice(from, at + Math.min(length, 120) + 40));
}

/**
 * A response as one text: status, headers and body, the body decoded when it is compressed (a
 * secret inside a gzip body is still a leak).
 */
export function responseText(response: ParsedResponse): string {
  const headerText = response.headers.map(([k, v]) => `${k}: ${v}`).join('\n');
  const encoding = response.headers.find(([k]) => k === 'content-encoding')?.[1]?.toLowerCase();
  let body = response.body;
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') body = gunzipSync(body);
    else if (encoding === 'deflate') body = inflateSync(body);
    else if (encoding === 'br') body = brotliDecompressSync(body);
  } catch {
    // A truncated or bogus compressed body: scan the bytes as they are.
  }
  return `${response.status} ${response.reason}\n${headerText}\n\n${body.toString('latin1')}`;
}

/** Secret-looking values worth checking: the whole value and, for JWTs, the signature alone. */
export function secretNeedles(secret: string): string[] {
  const parts = secret.split('.');
  if (parts.length === 3 && parts[2]!.length >= 20) return [secret, parts[2]!];
  return [secret];
}
