// The resource routes of the Kubernetes API stand-in: /api/v1/... and /apis/GROUP/VERSION/...,
// authorized per request, then list (JSON or Table), watch, get, create, update, patch and delete,
// with the status subresource written apart from the rest of the object.
import type { Request, Response } from 'express';
import { applyPatch, PatchError, requiredResourceVersion } from './kube-api-patch.js';
import { forbiddenMessage, parsePath, REASONS, sendStatus, verbOf } from './kube-api-request.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './kube-api-selectors.js';
import { apiVersionOf, StoreError, type KubeObject } from './kube-api-store.js';
import { tableContentType, tableFormat, toTable, type TableFormat } from './kube-api-table.js';
import type { KubeUser, RequestAttributes, RequestLogEntry } from './kube-api-types.js';
import { startWatch, type WatchHost } from './kube-api-watch.js';

export interface ResourceHost extends WatchHost {
  /** The server's authorizer, failing closed. */
  isAllowed(attrs: RequestAttributes): Promise<boolean>;
}

function sendTable(res: Response, format: TableFormat, table: Record<string, unknown>): void {
  // res.end, not res.send: express would append a charset the API server does not send.
  res.setHeader('content-type', tableContentType(format));
  res.end(JSON.stringify(table));
}

/** Optimistic concurrency: a body naming a resourceVersion applies only to that version. */
function checkResourceVersion(resource: string, current: KubeObject, required: string | undefined): void {
  if (required !== undefined && required !== current.metadata.resourceVersion) {
    throw new StoreError(
      409,
      `Operation cannot be fulfilled on ${resource} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  }
}

function stripForList(obj: KubeObject): KubeObject {
  // List items carry no kind/apiVersion on the wire; watch events do.
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = obj;
  return rest as KubeObject;
}

export function resourceRoute(host: ResourceHost): (req: Request, res: Response) => Promise<void> {
  const { store } = host;
  return async (req: Request, res: Response) => {
    const entry = res.locals.logEntry as RequestLogEntry;
    const parsed = parsePath(req.path);
    const type = parsed ? store.types.get(parsed.resource) : undefined;
    if (!parsed || !type || type.group !== parsed.group || type.version !== parsed.version) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const watch = entry.watch;
    const verb = verbOf(req.method, parsed.name !== undefined, watch);
    // The one subresource served: status, read and written apart from the rest of the object.
    const status = parsed.subresource === 'status';
    if (parsed.subresource !== undefined && (!status || !['get', 'update', 'patch'].includes(verb))) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    Object.assign(entry, {
      verb,
      apiGroup: type.group,
      resource: type.resource,
      namespace: parsed.namespace,
      name: parsed.name,
    });
    const attrs: RequestAttributes = {
      user: res.locals.user as KubeUser,
      verb,
      apiGroup: type.group,
      resource: type.resource,
      ...(parsed.subresource !== undefined ? { subresource: parsed.subresource } : {}),
      ...(parsed.namespace !== undefined ? { namespace: parsed.namespace } : {}),
      ...(parsed.name !== undefined ? { name: parsed.name } : {}),
      path: req.path,
    };
    if (!(await host.isAllowed(attrs))) {
      return sendStatus(res, 403, 'Forbidden', forbiddenMessage(attrs), {
        ...(parsed.name ? { name: parsed.name } : {}),
        ...(type.group ? { group: type.group } : {}),
        kind: type.resource,
      });
    }
    if (!type.namespaced && parsed.namespace !== undefined) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const q = entry.query;
    const table = tableFormat(req.headers.accept, q.includeObject);
    try {
      switch (verb) {
        case 'list':
        case 'watch': {
          const labels = parseLabelSelector(q.labelSelector);
          const fields = parseFieldSelector(q.fieldSelector);
          const ns = parsed.namespace;
          const matches = (o: KubeObject | undefined) =>
            o !== undefined &&
            (ns === undefined || o.metadata.namespace === ns) &&
            labels(o.metadata.labels) &&
            fields(o);
          if (verb === 'list') {
            if (
              q.resourceVersionMatch === 'Exact' &&
              q.resourceVersion &&
              Number(q.resourceVersion) < store.oldestResumableVersion
            ) {
              return sendStatus(
                res,
                410,
                'Expired',
                `too old resource version: ${q.resourceVersion} (${store.resourceVersion})`,
              );
            }
            const found = store.list(type.resource, ns).filter(matches);
            const rv = String(store.resourceVersion);
            if (table) return sendTable(res, table, toTable(type, found, table, rv));
            res.type('application/json').send(
              JSON.stringify({
                kind: `${type.kind}List`,
                apiVersion: apiVersionOf(type),
                metadata: { resourceVersion: rv },
                items: found.map(stripForList),
              }),
            );
            return;
          }
          return startWatch(host, res, type, matches, table);
        }
        case 'get': {
          const obj = store.get(type.resource, parsed.namespace, parsed.name!);
          if (!obj)
            return sendStatus(res, 404, 'NotFound', `${type.resource} "${parsed.name}" not found`, {
              name: parsed.name,
              kind: type.resource,
            });
          if (table) return sendTable(res, table, toTable(type, [obj], table, obj.metadata.resourceVersion));
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'create': {
          const body = (req.body ?? {}) as KubeObject;
          const obj = store.create(type.resource, {
            ...body,
            metadata: { ...body.metadata, ...(parsed.namespace ? { namespace: parsed.namespace } : {}) },
          });
          res.status(201).type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'update': {
          const body = (req.body ?? {}) as KubeObject;
          const obj = store.update(type.resource, parsed.namespace, parsed.name!, (current) => {
            checkResourceVersion(type.resource, current, requiredResourceVersion(body));
            return status ? { ...current, status: body.status ?? {} } : body;
          });
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'patch': {
          const obj = store.update(type.resource, parsed.namespace, parsed.name!, (current) => {
            checkResourceVersion(type.resource, current, requiredResourceVersion(req.body));
            const patched = applyPatch(req.headers['content-type'], current, req.body);
            // Through /status only the status changes; through the object, everything but it.
            return status
              ? { ...current, status: patched.status ?? {} }
              : { ...patched, ...(current.status ? { status: current.status } : {}) };
          });
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        case 'delete': {
          const obj = store.remove(type.resource, parsed.namespace, parsed.name!);
          res.type('application/json').send(JSON.stringify(obj));
          return;
        }
        default:
          return sendStatus(res, 405, 'MethodNotAllowed', `${req.method} is not supported by the stand-in`);
      }
    } catch (err) {
      if (err instanceof SelectorError)
        return sendStatus(res, 400, 'BadRequest', `unable to parse requirement: ${err.message}`);
      if (err instanceof PatchError)
        return sendStatus(res, err.code, REASONS[err.code] ?? 'BadRequest', err.message);
      if (err instanceof StoreError)
        return sendStatus(res, err.code, REASONS[err.code] ?? 'InternalError', err.message);
      throw err;
    }
  };
}
