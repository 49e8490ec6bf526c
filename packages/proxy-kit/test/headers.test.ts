import { downstreamHeaders, upstreamRequestHeaders } from '../src/headers.js';

describe('upstreamRequestHeaders', () => {
  it('replaces client credentials with the bearer and drops hop-by-hop headers', () => {
    const out = upstreamRequestHeaders(
      {
        host: 'localhost:8080',
        authorization: 'Bearer client-token',
        'api-key': 'client-key',
        connection: 'keep-alive, x-private',
        'keep-alive': 'timeout=5',
        'x-private': 'hop',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic abc',
        expect: '100-continue',
        'content-type': 'application/json',
        'x-custom': 'kept',
      },
      { host: 'upstream.example:443', bearer: 'sidecar-token' },
    );
    expect(out).toEqual({
      host: 'upstream.example:443',
      authorization: 'Bearer sidecar-token',
      'content-type': 'application/json',
      'x-custom': 'kept',
    });
  });

  it('drops extra configured headers', () => {
    const out = upstreamRequestHeaders(
      { cookie: 'a=b', accept: '*/*' },
      { host: 'h', bearer: 't', strip: new Set(['cookie']) },
    );
    expect(out).toEqual({ host: 'h', authorization: 'Bearer t', accept: '*/*' });
  });
});

describe('downstreamHeaders', () => {
  it('keeps repeated headers, drops hop-by-hop ones and those named in Connection', () => {
    const out = downstreamHeaders({
      'content-type': 'text/event-stream',
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive, X-Hop',
      'x-hop': 'secret',
      'transfer-encoding': 'chunked',
      'keep-alive': 'timeout=5',
      'retry-after-ms': '1500',
    });
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'set-cookie': ['a=1', 'b=2'],
      'retry-after-ms': '1500',
    });
  });
});
