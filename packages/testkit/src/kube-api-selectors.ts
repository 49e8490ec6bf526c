// Label and field selectors as the Kubernetes API server parses them (equality, set-based `in`/`notin`,
// existence `key` / `!key`), so the stand-in filters lists and watches the way a real cluster does.

export type Labels = Record<string, string> | undefined;

type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

export class SelectorError extends Error {}

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Splits on commas that are not inside parentheses. */
function splitTop(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new SelectorError(`invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (!VALUE.test(value)) throw new SelectorError(`invalid label value: "${value}"`);
  return value;
}

function parseRequirement(text: string): Requirement {
  let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text);
  if (m) {
    const values = m[3]!.split(',').map((v) => checkValue(v.trim()));
    return { key: checkKey(m[1]!), op: m[2] as 'in' | 'notin', values };
  }
  m = /^([^=!\s]+)\s*(==|!=|=)\s*(\S*)$/.exec(text);
  if (m) return { key: checkKey(m[1]!), op: m[2] === '!=' ? 'neq' : 'eq', value: checkValue(m[3]!) };
  m = /^!\s*(\S+)$/.exec(text);
  if (m) return { key: checkKey(m[1]!), op: 'notexists' };
  if (/^\S+$/.test(text)) return { key: checkKey(text), op: 'exists' };
  throw new SelectorError(`unable to parse requirement: "${text}"`);
}

export type LabelMatcher = (labels: Labels) => boolean;

/** Parses a `labelSelector` query value; throws SelectorError (-> 400) when it is malformed. */
export function parseLabelSelector(selector: string | undefined | null): LabelMatcher {
  if (!selector) return () => true;
  const reqs = splitTop(selector).map(parseRequirement);
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(l, r.key);
      switch (r.op) {
        case 'eq':
          return has && l[r.key] === r.value;
        case 'neq':
          return !has || l[r.key] !== r.value;
        case 'in':
          return has && r.values.includes(l[r.key]!);
        case 'notin':
          return !has || !r.values.includes(l[r.key]!);
        case 'exists':
          return has;
        case 'notexists':
          return !has;
      }
    });
  };
}

export type FieldMatcher = (obj: unknown) => boolean;

function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/** Parses a `fieldSelector` (`metadata.name=x`, `status.phase!=Failed`, comma-joined). */
export function parseFieldSelector(selector: string | undefined | null): FieldMatcher {
  if (!selector) return () => true;
  const reqs = splitTop(selector).map((text) => {
    const m = /^([A-Za-z0-9.]+)\s*(==|!=|=)\s*(.*)$/.exec(text);
    if (!m) throw new SelectorError(`invalid field selector: "${text}"`);
    return { path: m[1]!, neq: m[2] === '!=', value: m[3]! };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.neq);
}
