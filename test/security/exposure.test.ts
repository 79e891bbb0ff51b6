import { startHarness, tearDownAfterEach, type Harness } from '../support/harness';

describe('what the HTTP endpoints show, and to whom', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('keeps /metrics off the public port and /healthz without detail for anonymous callers', async () => {
    h = await startHarness({ worker: false });
    h.slack.failNext('auth.test', 'invalid_auth');
    const pub = await fetch(`${h.baseUrl}/metrics`);
    expect(pub.status).toBe(404);
    expect(await pub.text()).not.toContain('ir_findings');
    const health = await fetch(`${h.baseUrl}/healthz`);
    const body = (await health.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['status']);
    expect(JSON.stringify(body)).not.toContain('invalid_auth');
    // The loopback metrics port has both.
    expect(await (await fetch(`${h.metricsUrl}/metrics`)).text()).toContain('ir_findings_rejected_total');
    expect(((await (await fetch(`${h.metricsUrl}/healthz`)).json()) as { checks: unknown }).checks).toBeDefined();
  });

  it('serves /metrics on the public port only with the configured bearer token', async () => {
    const token = 'metrics-token-0123456789abcdef';
    h = await startHarness({ worker: false, env: { METRICS_TOKEN: token } });
    expect((await fetch(`${h.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const ok = await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('ir_findings_rejected_total');
    const detail = (await (await fetch(`${h.baseUrl}/healthz`, { headers: { authorization: `Bearer ${token}` } })).json()) as { checks?: unknown };
    expect(detail.checks).toBeDefined();
  });
});
