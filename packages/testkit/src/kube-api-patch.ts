// PATCH for the Kubernetes API stand-in, as the API server applies it by Content-Type: JSON merge
// patch (RFC 7386: maps merge, null deletes, lists replace), strategic merge patch (the same for
// maps such as labels; lists of known keyed fields merge by their key, `$patch: delete|replace`
// directives) and JSON patch (RFC 6902: add, remove, replace, test). Server-side apply is refused
// with 415, as a server that does not offer it would.
import type { KubeObject } from './kube-api-store.js';

export const PATCH_CONTENT_TYPES = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;

export class PatchError extends Error {
  constructor(
    readonly code: 400 | 409 | 415 | 422,
    message: string,
  ) {
    super(message);
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * List fields that strategic merge patch merges element by element, by the key named here (the
 * `patchMergeKey` of the Kubernetes types the stand-in serves); other lists are replaced.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  env: 'name',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  containerStatuses: 'name',
  imagePullSecrets: 'name',
};
/** Service ports merge by `port`, container ports by `containerPort`. */
const SERVICE_PORT_KEY = 'port';

/** Applies `patch` (the parsed body) of the PATCH's `contentType` to `target`; returns the new object. */
export function applyPatch(contentType: string | undefined, target: KubeObject, patch: unknown): KubeObject {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  let result: unknown;
  switch (type) {
    case PATCH_CONTENT_TYPES.merge:
      if (!isObject(patch)) throw new PatchError(400, 'a merge patch must be a JSON object');
      result = mergePatch(target as unknown as Json, patch);
      break;
    case PATCH_CONTENT_TYPES.strategic:
      if (!isObject(patch)) throw new PatchError(400, 'a strategic merge patch must be a JSON object');
      result = strategicMerge(target as unknown as JsonObject, patch, []);
      break;
    case PATCH_CONTENT_TYPES.json:
      if (!Array.isArray(patch)) throw new PatchError(400, 'a JSON patch must be an array of operations');
      result = jsonPatch(structuredClone(target) as unknown as Json, patch);
      break;
    default:
      throw new PatchError(
        415,
        `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_CONTENT_TYPES).join(', ')}`,
      );
  }
  if (!isObject(result) || !isObject(result.metadata))
    throw new PatchError(422, 'the patched object must keep its metadata');
  return result as unknown as KubeObject;
}

/** The resourceVersion a patch or update requires (optimistic concurrency), if it names one. */
export function requiredResourceVersion(patch: unknown): string | undefined {
  if (!isObject(patch) || !isObject(patch.metadata)) return undefined;
  const rv = patch.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

function strategicMerge(target: JsonObject, patch: JsonObject, path: string[]): JsonObject {
  if (patch.$patch === 'replace') return stripDirectives(patch) as JsonObject;
  const result: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    // kubectl apply's bookkeeping ($setElementOrder/..., $retainKeys, $deleteFromPrimitiveList/...)
    // does not change what is stored here.
    if (key.startsWith('$')) continue;
    if (value === null) {
      delete result[key];
    } else if (isObject(value)) {
      if (value.$patch === 'delete') delete result[key];
      else result[key] = strategicMerge(isObject(result[key]) ? result[key] : {}, value, [...path, key]);
    } else if (Array.isArray(value)) {
      const mergeKey = mergeKeyOf(key, path);
      const current = result[key];
      result[key] =
        mergeKey && Array.isArray(current) ? mergeList(current, value, mergeKey, [...path, key]) : value;
    } else {
      result[key] = value;
    }
  }
  return result;
}

function mergeKeyOf(key: string, path: string[]): string | undefined {
  // spec.ports of a Service merge by port; a container's ports by containerPort.
  if (key === 'ports' && path.length === 1 && path[0] === 'spec') return SERVICE_PORT_KEY;
  return MERGE_KEYS[key];
}

function mergeList(current: Json[], patch: Json[], mergeKey: string, path: string[]): Json[] {
  if (patch.some((item) => isObject(item) && item.$patch === 'replace'))
    return patch.filter((item) => !(isObject(item) && item.$patch === 'replace'));
  const result = [...current];
  for (const item of patch) {
    if (!isObject(item) || item[mergeKey] === undefined) {
      throw new PatchError(422, `an element of ${path.join('.')} lacks its merge key ${mergeKey}`);
    }
    const index = result.findIndex((existing) => isObject(existing) && existing[mergeKey] === item[mergeKey]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMerge(result[index] as JsonObject, item, path);
    } else {
      result.push(stripDirectives(item));
    }
  }
  return result;
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('$'))
      .map(([key, v]) => [key, stripDirectives(v)]),
  );
}

interface Operation {
  op: string;
  path: string;
  value?: Json;
}

function jsonPatch(document: Json, operations: unknown[]): Json {
  let doc = document;
  for (const raw of operations) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw new PatchError(400, 'each JSON patch operation needs op and path');
    const op = raw as unknown as Operation;
    const tokens = pointer(op.path);
    switch (op.op) {
      case 'add':
      case 'replace':
        if (!('value' in raw)) throw new PatchError(400, `${op.op} ${op.path} needs a value`);
        doc = setAt(doc, tokens, structuredClone(op.value!), op.op === 'replace');
        break;
      case 'remove':
        doc = removeAt(doc, tokens, op.path);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, tokens)) !== JSON.stringify(op.value))
          throw new PatchError(422, `test operation failed at ${op.path}`);
        break;
      default:
        throw new PatchError(400, `unsupported JSON patch operation: ${op.op}`);
    }
  }
  return doc;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(400, `invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: Json, tokens: string[]): Json | undefined {
  let node: Json | undefined = doc;
  for (const t of tokens) {
    if (Array.isArray(node)) node = node[Number(t)];
    else if (isObject(node)) node = node[t];
    else return undefined;
  }
  return node;
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; last: string } {
  const parent = getAt(doc, tokens.slice(0, -1));
  if (parent === undefined || (!Array.isArray(parent) && !isObject(parent)))
    throw new PatchError(422, `the parent of ${path} does not exist`);
  return { parent, last: tokens.at(-1)! };
}

function setAt(doc: Json, tokens: string[], value: Json, mustExist: boolean): Json {
  if (tokens.length === 0) return value;
  const path = `/${tokens.join('/')}`;
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length)
      throw new PatchError(422, `index out of range at ${path}`);
    if (mustExist) {
      if (index >= parent.length) throw new PatchError(422, `nothing to replace at ${path}`);
      parent[index] = value;
    } else parent.splice(index, 0, value);
  } else {
    const obj = parent as JsonObject;
    if (mustExist && !(last in obj)) throw new PatchError(422, `nothing to replace at ${path}`);
    obj[last] = value;
  }
  return doc;
}

function removeAt(doc: Json, tokens: string[], path: string): Json {
  if (tokens.length === 0) throw new PatchError(422, 'cannot remove the whole object');
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length)
      throw new PatchError(422, `nothing to remove at ${path}`);
    parent.splice(index, 1);
  } else {
    const obj = parent as JsonObject;
    if (!(last in obj)) throw new PatchError(422, `nothing to remove at ${path}`);
    delete obj[last];
  }
  return doc;
}
