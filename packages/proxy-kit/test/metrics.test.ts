import { Registry } from 'prom-client';
import { forwardMetrics, METRIC_UPSTREAM_REPLAYS, METRIC_UPSTREAM_RESPONSES } from '../src/metrics.js';
import { tokenReadiness } from '../src/readiness.js';

describe('forwardMetrics', () => {
  it('counts responses by status and outcome, and replays', async () => {
    const registry = new Registry();
    const m = forwardMetrics(registry);
    m.record({ status: 200, replayed: true });
    m.record({ status: 504, replayed: false, error: 'gateway_timeout' });
    const text = await registry.metrics();
    expect(text).toContain(`${METRIC_UPSTREAM_RESPONSES}{status="200",outcome="ok"} 1`);
    expect(text).toContain(`${METRIC_UPSTREAM_RESPONSES}{status="504",outcome="gateway_timeout"} 1`);
    expect(text).toContain(`${METRIC_UPSTREAM_REPLAYS} 1`);
  });
});

describe('tokenReadiness', () => {
  it('counts as demand when no valid token is held (an unready pod gets no other traffic)', async () => {
    let valid = true;
    let demands = 0;
    const status = () => ({
      valid,
      expiresAt: undefined,
      refreshAt: undefined,
      lastError: undefined,
      consecutiveFailures: 0,
    });
    const ready = tokenReadiness(status, () => {
      demands += 1;
      return Promise.reject(new Error('still down')); // ignored: the probe answers from status
    });
    expect(ready().ready).toBe(true);
    expect(demands).toBe(0);
    valid = false;
    expect(ready().ready).toBe(false);
    expect(demands).toBe(1);
  });

  it('is ready exactly when the token is valid and reports the last error', () => {
    const expiresAt = new Date('2026-01-01T00:00:00Z');
    const ready = tokenReadiness(() => ({
      valid: false,
      expiresAt,
      refreshAt: undefined,
      lastError: 'AADSTS700027',
      consecutiveFailures: 2,
    }))();
    expect(ready).toEqual({
      ready: false,
      details: {
        tokenValid: false,
        expiresAt: '2026-01-01T00:00:00.000Z',
        refreshAt: null,
        consecutiveFailures: 2,
        lastError: 'AADSTS700027',
      },
    });
  });
});
