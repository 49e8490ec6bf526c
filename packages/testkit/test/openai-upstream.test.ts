// The OpenAI stand-in's realtime WebSocket echo on its own, with the ws client: it checks the bearer
// on the upgrade like the HTTP routes, echoes frames with their type, and closes as told.
import WebSocket from 'ws';
import { startOpenAiUpstream, type OpenAiUpstream } from '../src/openai-upstream.js';

let upstream: OpenAiUpstream;
let wsUrl: string;

beforeAll(async () => {
  upstream = await startOpenAiUpstream({
    verify: async (token) => {
      if (token !== 'good') throw new Error('bad token');
      return { aud: 'test' };
    },
  });
  wsUrl = upstream.url.replace(/^http/, 'ws');
});

afterAll(() => upstream.close());

function connect(path: string, token?: string): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl}${path}`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

describe('openai-upstream realtime echo', () => {
  it('refuses an upgrade without a valid bearer (401) and on other paths (404)', async () => {
    expect(await connect('/openai/realtime')).toBe(401);
    expect(await connect('/openai/realtime', 'bad')).toBe(401);
    expect(await connect('/openai/chat', 'good')).toBe(404);
    expect(upstream.webSockets).toHaveLength(0);
  });

  it('echoes text and binary frames and closes with the code it is told', async () => {
    const ws = (await connect('/openai/v1/realtime?model=m', 'good')) as WebSocket;
    const replies: Array<[string, boolean]> = [];
    ws.on('message', (data, binary) => replies.push([(data as Buffer).toString('hex'), binary]));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('hi');
    ws.send(Buffer.from([1, 2]));
    ws.send('close 4321 done');
    expect(await closed).toBe(4321);
    expect(replies).toEqual([
      [Buffer.from('hi').toString('hex'), false],
      ['0102', true],
    ]);
    expect(upstream.webSockets.at(-1)).toMatchObject({
      url: '/openai/v1/realtime?model=m',
      closed: { code: 4321, reason: 'done', by: 'upstream' },
    });
  });
});
