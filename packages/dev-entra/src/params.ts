// Reading OAuth parameters: a parameter counts only as a non-empty string, and what goes into the
// request log is a preview, never a whole code or token.

export type Params = Record<string, unknown>;

/** The parameter as a non-empty string, else undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The first characters and the length of a code or token, for the request log. */
export function preview(value: string): string {
  return `${value.slice(0, 6)}…(${value.length})`;
}
