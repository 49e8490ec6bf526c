import { TokenBodyJson } from '../src/protocols/common.js';

describe('TokenBodyJson', () => {
  it('serializes exactly as JSON.stringify, access_token first, across token changes', () => {
    const json = new TokenBodyJson();
    const bodies = [
      { access_token: 'eyJ.a"b\\c', expires_on: 1, expires_in: 3599, token_type: 'Bearer' },
      { access_token: 'eyJ.a"b\\c', expires_on: 1, expires_in: 3598, token_type: 'Bearer' },
      { access_token: 'second\u2028token', resource: 'https://vault.azure.net', client_id: '' },
      { access_token: 'only' },
    ];
    for (const body of bodies) {
      const text = json.json(body);
      expect(text).toBe(JSON.stringify(body));
      expect(JSON.parse(text)).toEqual(body);
    }
  });
});
