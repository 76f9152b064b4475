/**
 * The two gauges computed at scrape time: adoption (`dns_tuner_namespaces{policy,mode}`) and readiness
 * (`dns_tuner_ready{check}`). The adoption mode must be the mode the engine applies to a plain pod of the namespace —
 * checked against the namespace report (the engine's own answer) for any config mode and annotation value.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/types.ts';
import { buildNamespaceReport } from '../../src/dryrun/namespace-report.ts';
import { countAdoption, createAdoptionMetrics } from '../../src/metrics/adoption.ts';
import { createReadinessMetrics } from '../../src/metrics/readiness.ts';
import { exampleConfig, namespace } from '../support/engine.ts';

const config = exampleConfig();
const dryRunConfig: Config = { ...config, mode: 'dry-run' };

function table(rows: ReturnType<typeof countAdoption>): Record<string, number> {
  return Object.fromEntries(rows.map((r) => [`${r.policy} ${r.mode}`, r.namespaces]));
}

describe('countAdoption', () => {
  it('counts labelled namespaces by policy and mode, zero rows for every configured policy, unknown apart', () => {
    const namespaces = [
      namespace('shop', 'default'),
      namespace('edge', 'default', { 'dns-tuner.io/ndots': '2' }),
      namespace('staging', 'default', { 'dns-tuner.io/mode': 'dry-run' }),
      namespace('payments', 'options-only', { 'dns-tuner.io/mode': 'enforce' }),
      namespace('typo', 'defualt'),
      namespace('typo-2', 'no-such-policy', { 'dns-tuner.io/mode': 'dry-run' }),
      namespace('legacy', undefined),
    ];
    expect(table(countAdoption(config, namespaces))).toEqual({
      'default enforce': 2,
      'default dry-run': 1,
      'options-only enforce': 1,
      'options-only dry-run': 0,
      'unknown enforce': 1,
      'unknown dry-run': 1,
    });
  });

  it('dry-run in the config wins over a namespace that says enforce; a bad mode value means dry-run (fail safe)', () => {
    const namespaces = [
      namespace('shop', 'default', { 'dns-tuner.io/mode': 'enforce' }),
      namespace('odd', 'default', { 'dns-tuner.io/mode': 'sometimes' }),
    ];
    expect(table(countAdoption(dryRunConfig, namespaces))).toMatchObject({
      'default dry-run': 2,
      'default enforce': 0,
    });
    expect(table(countAdoption(config, namespaces))).toMatchObject({ 'default enforce': 1, 'default dry-run': 1 });
  });

  it("agrees with the engine's mode for a plain pod of the namespace, whatever the config and annotation say", () => {
    const modeValue = fc.oneof(fc.constantFrom('enforce', 'dry-run', ' dry-run ', 'DRY-RUN', ''), fc.string());
    fc.assert(
      fc.property(fc.constantFrom(config, dryRunConfig), fc.option(modeValue, { nil: undefined }), (cfg, mode) => {
        const ns = namespace('shop', 'default', mode === undefined ? {} : { 'dns-tuner.io/mode': mode });
        const counted = countAdoption(cfg, [ns]).find((r) => r.policy === 'default' && r.namespaces === 1);
        expect(counted?.mode).toBe(buildNamespaceReport(cfg, ns).mode);
      }),
    );
  });

  it('reads the source and the config at every scrape', async () => {
    const registry = new Registry();
    let namespaces = [namespace('shop', 'default')];
    let current = config;
    createAdoptionMetrics(registry, { config: () => current, namespaces: { entries: () => namespaces } });
    const scrape = async () => (await registry.getSingleMetricAsString('dns_tuner_namespaces')).split('\n');
    expect(await scrape()).toContain('dns_tuner_namespaces{policy="default",mode="enforce"} 1');
    namespaces = [namespace('shop', 'options-only'), namespace('edge', 'options-only')];
    current = { ...config, policies: { 'options-only': config.policies['options-only']! } };
    const lines = await scrape();
    expect(lines).toContain('dns_tuner_namespaces{policy="options-only",mode="enforce"} 2');
    // A policy gone from the config is gone from the metric.
    expect(lines.filter((l) => l.includes('policy="default"'))).toEqual([]);
  });
});

describe('dns_tuner_ready', () => {
  it('is 1 per passing check and 0 per failing, throwing or hanging one', async () => {
    const registry = new Registry();
    createReadinessMetrics(registry, [
      { name: 'namespaces', check: () => ({ ok: true }) },
      { name: 'certificate', check: () => ({ ok: false, reason: 'no serving certificate' }) },
      {
        name: 'throws',
        check: () => {
          throw new Error('boom');
        },
      },
      { name: 'hangs', check: () => new Promise(() => {}) },
    ]);
    const text = await registry.getSingleMetricAsString('dns_tuner_ready');
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'dns_tuner_ready{check="namespaces"} 1',
      'dns_tuner_ready{check="certificate"} 0',
      'dns_tuner_ready{check="throws"} 0',
      'dns_tuner_ready{check="hangs"} 0',
    ]);
  });
});
