import { CryptoBox } from '../src/crypto-box.js';
import { LoginStates } from '../src/login-state.js';
import { MemoryStore } from '../src/store.js';

const data = { codeVerifier: 'verifier', nonce: 'nonce', returnTo: '/x' };

/** `name=value` pairs a browser would send back for these Set-Cookie values (removals dropped). */
function cookieHeader(setCookies: string[], existing = new Map<string, string>()): string {
  const jar = new Map(existing);
  for (const set of setCookies) {
    const [pair] = set.split(';');
    const eq = pair!.indexOf('=');
    if (/Max-Age=0/.test(set)) jar.delete(pair!.slice(0, eq));
    else jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

describe('LoginStates', () => {
  let now = 1_000_000;
  const store = new MemoryStore();
  const box = CryptoBox.random();
  const make = (secure = true, key = box) =>
    new LoginStates({
      box: key,
      store,
      cookie: { name: secure ? '__Host-aks-broker' : 'aks-broker', secure },
      now: () => now,
    });
  afterAll(() => store.close());

  it('seals the sign-in into a short-lived __Host- cookie that only finds its own state', () => {
    const logins = make();
    const { state, setCookies } = logins.begin(data, undefined);
    expect(setCookies).toHaveLength(1);
    const set = setCookies[0]!;
    expect(set).toMatch(/^__Host-aks-broker-login-[A-Za-z0-9_-]{16}=v1\./);
    expect(set).toMatch(/; Path=\//);
    expect(set).toMatch(/; HttpOnly/);
    expect(set).toMatch(/; SameSite=Lax/);
    expect(set).toMatch(/; Secure/);
    expect(set).toMatch(/; Max-Age=600/);
    expect(set).not.toContain('verifier');
    const found = logins.find(state, cookieHeader(setCookies));
    expect(found.login).toMatchObject({ ...data, state });
    expect(found.clear).toMatch(/^__Host-aks-broker-login-.*Max-Age=0/);
    expect(logins.find('another-state', cookieHeader(setCookies))).toEqual({});
    expect(logins.find(state, undefined)).toEqual({});
  });

  it('plain-http names (COOKIE_SECURE=false) carry no __Host- prefix and no Secure', () => {
    const { setCookies } = make(false).begin(data, undefined);
    expect(setCookies[0]).toMatch(/^aks-broker-login-/);
    expect(setCookies[0]).not.toMatch(/Secure/);
  });

  it("refuses a cookie moved under another sign-in's name, tampered with, sealed with another key, or expired", () => {
    const logins = make();
    const first = logins.begin(data, undefined);
    const second = logins.begin(data, undefined);
    const firstValue = first.setCookies[0]!.split(';')[0]!.split('=')[1]!;
    // first's sealed value presented under second's cookie name
    expect(
      logins.find(second.state, `${logins.cookieName(second.state)}=${firstValue}`).login,
    ).toBeUndefined();
    const tampered = firstValue.slice(0, -2) + (firstValue.endsWith('AA') ? 'BB' : 'AA');
    expect(logins.find(first.state, `${logins.cookieName(first.state)}=${tampered}`).login).toBeUndefined();
    const otherKey = make(true, CryptoBox.random());
    expect(otherKey.find(first.state, cookieHeader(first.setCookies)).login).toBeUndefined();
    now += 10 * 60_000;
    expect(logins.find(first.state, cookieHeader(first.setCookies)).login).toBeUndefined();
  });

  it('keeps three pending sign-ins per browser and clears expired or unreadable ones', () => {
    const logins = make();
    let jar = new Map<string, string>();
    const states: string[] = [];
    for (let i = 0; i < 4; i++) {
      now += 1000;
      const { state, setCookies } = logins.begin(data, cookieHeader([], jar));
      states.push(state);
      jar = new Map(
        cookieHeader(setCookies, jar)
          .split('; ')
          .map((p) => p.split('=', 2) as [string, string]),
      );
    }
    expect(jar.size).toBe(3);
    expect(logins.find(states[0]!, cookieHeader([], jar)).login).toBeUndefined();
    for (const state of states.slice(1))
      expect(logins.find(state, cookieHeader([], jar)).login).toBeDefined();
    jar.set(`${logins.cookieName('junk')}`, 'not-sealed');
    const { setCookies } = logins.begin(data, cookieHeader([], jar));
    expect(setCookies.filter((c) => /Max-Age=0/.test(c)).map((c) => c.split('=')[0])).toEqual(
      expect.arrayContaining([logins.cookieName('junk'), logins.cookieName(states[1]!)]),
    );
  });

  it('a state can be marked redeemed once', async () => {
    const logins = make();
    const { state, setCookies } = logins.begin(data, undefined);
    const { login } = logins.find(state, cookieHeader(setCookies));
    expect(await logins.markRedeemed(login!)).toBe(true);
    expect(await logins.markRedeemed(login!)).toBe(false);
  });
});
