/**
 * The ops endpoints: /livez never depends on anything, /readyz is the AND of its checks, /metrics is the
 * Prometheus exposition of the registry the app was given (and only that registry).
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { namespaceSourceCheck, type ReadinessCheck } from '../../src/health/readiness.ts';
import { buildOpsApp } from '../../src/http/ops-app.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { createFileNamespaceSource } from '../../src/namespaces/file-source.ts';

const logger = pino({ level: 'silent' });
const apps: FastifyInstance[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function ops(readiness: ReadinessCheck[], registry = new Registry(), checkTimeoutMs?: number): FastifyInstance {
  const app = buildOpsApp({ logger, registry, readiness, ...(checkTimeoutMs ? { checkTimeoutMs } : {}) });
  apps.push(app);
  return app;
}

const get = (app: FastifyInstance, url: string) => app.inject({ method: 'GET', url });

describe('/livez', () => {
  it('answers 200 even when every readiness check fails', async () => {
    const app = ops([{ name: 'api', check: () => ({ ok: false, reason: 'API server unreachable' }) }]);
    const res = await get(app, '/livez');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('ok\n');
    expect((await get(app, '/readyz')).statusCode).toBe(503);
  });
});

describe('/readyz', () => {
  it('is 200 with every check listed when all are ok', async () => {
    const res = await get(
      ops([
        { name: 'a', check: () => ({ ok: true }) },
        { name: 'b', check: async () => ({ ok: true }) },
      ]),
      '/readyz',
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ok',
      checks: [
        { name: 'a', ok: true },
        { name: 'b', ok: true },
      ],
      failing: [],
    });
  });

  it('is 503 naming each failing check and why: not ok, throwing, or not answering in time', async () => {
    const app = ops(
      [
        { name: 'fine', check: () => ({ ok: true }) },
        { name: 'shutdown', check: () => ({ ok: false, reason: 'shutting down' }) },
        {
          name: 'thrower',
          check: () => {
            throw new Error('cache exploded');
          },
        },
        { name: 'slow', check: () => new Promise(() => {}) },
      ],
      new Registry(),
      50,
    );
    const res = await get(app, '/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'failing',
      failing: [
        { name: 'shutdown', ok: false, reason: 'shutting down' },
        { name: 'thrower', ok: false, reason: 'check failed: cache exploded' },
        { name: 'slow', ok: false, reason: 'check did not answer within 50 ms' },
      ],
    });
  });

  it('reads the check list on every request, so a check added later counts', async () => {
    const checks: ReadinessCheck[] = [];
    const app = ops(checks);
    expect((await get(app, '/readyz')).statusCode).toBe(200);
    checks.push({ name: 'late', check: () => ({ ok: false, reason: 'not yet' }) });
    expect((await get(app, '/readyz')).statusCode).toBe(503);
  });

  it('follows the namespace source: not ready before its file is loaded, ready after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dns-tuner-ops-'));
    dirs.push(dir);
    const file = join(dir, 'ns.yaml');
    await writeFile(file, '- metadata: {name: shop, labels: {dns-tuner.io/policy: default}}\n');
    const source = createFileNamespaceSource(file);
    const app = ops([namespaceSourceCheck(source)]);
    const before = await get(app, '/readyz');
    expect(before.statusCode).toBe(503);
    expect(before.json().failing[0]).toMatchObject({
      name: 'namespaces',
      reason: expect.stringContaining('not loaded'),
    });
    await source.start();
    expect((await get(app, '/readyz')).statusCode).toBe(200);
  });
});

describe('/metrics', () => {
  it('exposes the dns-tuner metrics and process metrics of its own registry, over plain HTTP', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry, { version: '1.2.3' });
    metrics.reviews.inc({ decision: 'mutated', reason: 'policy-applied', policy: 'default', server_dry_run: 'false' });
    const app = ops([], registry);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain(
      'dns_tuner_reviews_total{decision="mutated",reason="policy-applied",policy="default",server_dry_run="false"} 1',
    );
    expect(text).toContain(`dns_tuner_build_info{version="1.2.3",node="${process.version}"} 1`);
    expect(text).toMatch(/^dns_tuner_requests_in_flight 0$/m);
    expect(text).toContain('# TYPE dns_tuner_review_duration_seconds histogram');
    expect(text).toContain('# TYPE dns_tuner_review_errors_total counter');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('keeps registries apart: one app never shows another app’s counts', async () => {
    const a = new Registry();
    const b = new Registry();
    createMetrics(a, { version: 'a', defaultMetrics: false }).reviewErrors.inc();
    createMetrics(b, { version: 'b', defaultMetrics: false });
    const textB = (await get(ops([], b), '/metrics')).body;
    expect(textB).toMatch(/^dns_tuner_review_errors_total 0$/m);
    expect(textB).not.toContain('version="a"');
  });
});
