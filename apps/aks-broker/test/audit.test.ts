import { Writable } from 'node:stream';
import { createLogger } from '@auth-sidecars/service-kit';
import { AuditLog, kubeAttributes } from '../src/audit.js';

const q = (s = '') => new URLSearchParams(s);

describe('kubeAttributes', () => {
  it.each([
    [
      'GET',
      '/api/v1/namespaces/team-a/pods',
      '',
      { verb: 'list', apiGroup: '', resource: 'pods', namespace: 'team-a' },
    ],
    [
      'GET',
      '/api/v1/namespaces/team-a/pods',
      'watch=true',
      { verb: 'watch', resource: 'pods', namespace: 'team-a' },
    ],
    [
      'GET',
      '/api/v1/watch/namespaces/team-a/pods',
      '',
      { verb: 'watch', resource: 'pods', namespace: 'team-a' },
    ],
    [
      'GET',
      '/api/v1/namespaces/team-a/pods/api-0/log',
      '',
      { verb: 'get', resource: 'pods', name: 'api-0', subresource: 'log', namespace: 'team-a' },
    ],
    [
      'DELETE',
      '/apis/apps/v1/namespaces/x/deployments/web',
      '',
      { verb: 'delete', apiGroup: 'apps', resource: 'deployments', name: 'web', namespace: 'x' },
    ],
    ['DELETE', '/api/v1/namespaces/x/pods', '', { verb: 'deletecollection', resource: 'pods' }],
    [
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      '',
      { verb: 'create', apiGroup: 'authorization.k8s.io', resource: 'selfsubjectrulesreviews' },
    ],
    ['GET', '/api/v1/namespaces/team-a', '', { verb: 'get', resource: 'namespaces', name: 'team-a' }],
    ['GET', '/api/v1/pods', '', { verb: 'list', resource: 'pods', namespace: undefined }],
    ['PATCH', '/api/v1/nodes/n1', '', { verb: 'patch', resource: 'nodes', name: 'n1' }],
    // The API server reads booleans as Go does: anything but "", "0" and "false" is true.
    ['GET', '/api/v1/namespaces/a/pods', 'watch=yes', { verb: 'watch' }],
    ['GET', '/api/v1/namespaces/a/pods', 'watch=T', { verb: 'watch' }],
    ['GET', '/api/v1/namespaces/a/pods', 'watch=false&watch=1', { verb: 'watch' }],
    ['GET', '/api/v1/namespaces/a/pods', 'watch=FALSE', { verb: 'list' }],
    ['GET', '/api/v1/namespaces/a/pods', 'watch=0', { verb: 'list' }],
    ['GET', '/api/v1/namespaces/a/pods', 'watch=', { verb: 'list' }],
  ])('%s %s?%s', (method, path, query, expected) => {
    expect(kubeAttributes(method, path, q(query))).toMatchObject(expected);
  });

  it('leaves non-resource paths without a resource', () => {
    expect(kubeAttributes('GET', '/version', q())).toEqual({
      verb: 'get',
      apiGroup: '',
      resource: undefined,
    });
  });
});

describe('AuditLog', () => {
  it('writes one JSON line with the audit fields and component audit', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    new AuditLog(createLogger({ service: 't', stream })).record({
      user: 'alice@contoso.test',
      oid: 'o',
      verb: 'list',
      apiGroup: '',
      resource: 'pods',
      namespace: 'a',
      status: 200,
      requestId: 'r1',
      durationMs: 3,
      path: '/api/v1/namespaces/a/pods',
    });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      message: 'kube request',
      component: 'audit',
      audit: true,
      user: 'alice@contoso.test',
      verb: 'list',
      resource: 'pods',
      namespace: 'a',
      status: 200,
      requestId: 'r1',
    });
  });
});
