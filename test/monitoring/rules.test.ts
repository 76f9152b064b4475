/**
 * The alerting rules, proven with Prometheus's own tool (`promtool check rules`, `promtool test rules`), and held to
 * what an on-call engineer needs: every alert documented, tested firing, and agreeing with the manifests it watches
 * (the webhook's name and timeout, the scrape job) and with the metrics README.md documents.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1MutatingWebhookConfiguration, V1Service } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { ROOT } from '../../lab/paths.ts';
import { ACTION_REASON } from '../../src/core/decide.ts';
import { CLUSTER_REASONS, SKIP_REASONS } from '../../src/core/types.ts';
import { findObject, type KubeObject, kustomize } from '../manifests/render.ts';
import { promtool } from '../support/prometheus.ts';
import {
  ANNOUNCED_METRICS,
  alertRules,
  dashboardQueries,
  dnsTunerMetrics,
  documentedMetrics,
  JOB,
  RULE_TESTS,
  RULES,
  RUNBOOK,
  SCRAPE_CONFIG,
} from './kit.ts';

const rules = alertRules();

describe('promtool', () => {
  it('checks the rules file, lint included', async () => {
    const result = await promtool(['check', 'rules', '--lint=all', '--lint-fatal', RULES]);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.code).toBe(0);
  });

  it('passes the unit tests: every alert fires on the input it is for, and only then', async () => {
    const result = await promtool(['test', 'rules', RULE_TESTS]);
    expect(result.output).toContain('SUCCESS');
    expect(result.code, result.output).toBe(0);
  });
});

const testFileSchema = z.object({
  rule_files: z.array(z.string()),
  tests: z.array(
    z.object({
      alert_rule_test: z
        .array(
          z.object({
            alertname: z.string(),
            exp_alerts: z.array(z.object({ exp_labels: z.record(z.string(), z.string()) })),
          }),
        )
        .optional(),
    }),
  ),
});

describe('every alert', () => {
  it('has a test case where it fires, for each severity', () => {
    const tests = testFileSchema.parse(parse(readFileSync(RULE_TESTS, 'utf8')));
    expect(tests.rule_files).toEqual(['rules.yaml']);
    const fired = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).flatMap((c) => c.exp_alerts.map((a) => `${c.alertname}/${a.exp_labels.severity}`)),
      ),
    );
    const untested = rules.map((r) => `${r.alert}/${r.labels.severity}`).filter((r) => !fired.has(r));
    expect(untested).toEqual([]);
  });

  it('has a runbook section in docs/monitoring.md that its runbook_url points to, and every section an alert', () => {
    const runbook = readFileSync(RUNBOOK, 'utf8');
    const section = runbook.slice(runbook.indexOf('\n## Runbook\n'));
    expect(section.length).toBeGreaterThan(20);
    const end = section.indexOf('\n## ', 1);
    const headings = [...(end === -1 ? section : section.slice(0, end)).matchAll(/^### (\S+)$/gm)].map((m) => m[1]);
    const names = [...new Set(rules.map((r) => r.alert))];
    expect(headings.sort()).toEqual([...names].sort());
    for (const rule of rules) {
      // GitHub's anchor for a one-word heading: the word, lowercased.
      expect(rule.annotations.runbook_url).toBe(`docs/monitoring.md#${rule.alert.toLowerCase()}`);
    }
  });

  it('reads only metrics README.md documents (or that work in progress announces)', () => {
    const documented = new Set(documentedMetrics().map((m) => m.name));
    const used = [...rules.map((r) => r.expr), ...dashboardQueries().map((q) => q.expr)].flatMap(dnsTunerMetrics);
    const unknown = [...new Set(used)].filter((m) => !documented.has(m) && !ANNOUNCED_METRICS.has(m));
    expect(unknown).toEqual([]);
  });

  it('names only reasons the code has', () => {
    const known = new Set<string>([...SKIP_REASONS, ...Object.values(ACTION_REASON), ...CLUSTER_REASONS]);
    const named = rules.flatMap((r) => [...r.expr.matchAll(/reason="([^"]+)"/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((r) => !known.has(r))).toEqual([]);
  });
});

describe('the rules agree with the manifests', () => {
  let base: KubeObject[];
  beforeAll(async () => {
    base = await kustomize(join(ROOT, 'manifests', 'base'));
  });

  it("select the webhook by the name the apiserver's metrics carry", () => {
    const config = findObject<V1MutatingWebhookConfiguration>(base, 'MutatingWebhookConfiguration');
    const names = (config.webhooks ?? []).map((w) => w.name);
    const selected = rules.flatMap((r) =>
      [...r.expr.matchAll(/apiserver_[a-z_]+\{name="([^"]+)"\}/g)].map((m) => m[1]),
    );
    expect(selected.length).toBeGreaterThan(0);
    for (const name of selected) expect(names).toContain(name);
    for (const q of dashboardQueries()) {
      for (const [, name] of q.expr.matchAll(/apiserver_[a-z_]+\{name="([^"]+)"\}/g)) expect(names).toContain(name);
    }
  });

  it('warn about latency between half the webhook timeout and the timeout', () => {
    const config = findObject<V1MutatingWebhookConfiguration>(base, 'MutatingWebhookConfiguration');
    const timeout = config.webhooks?.[0]?.timeoutSeconds;
    const slow = rules.find((r) => r.alert === 'DnsTunerSlowReviews')!;
    const threshold = Number(/> ([\d.]+)$/.exec(slow.expr)?.[1]);
    expect(timeout).toBe(3);
    expect(threshold).toBeGreaterThanOrEqual(timeout! / 2);
    expect(threshold).toBeLessThan(timeout!);
    expect(slow.annotations.description).toContain(`timeoutSeconds (${timeout} s)`);
  });

  it('expect the job the scrape config and the ServiceMonitor give (the Service name)', () => {
    const service = findObject<V1Service>(base, 'Service');
    expect(service.metadata?.name).toBe(JOB);
    const jobs = rules.flatMap((r) => [...r.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1]));
    expect(jobs).toEqual([JOB]);
  });
});

describe('the scrape job for Prometheus without the operator', () => {
  const scrapeSchema = z.strictObject({
    rule_files: z.tuple([z.literal('rules.yaml')]),
    scrape_configs: z.tuple([
      z.strictObject({
        job_name: z.literal(JOB),
        scrape_interval: z.string(),
        kubernetes_sd_configs: z.tuple([
          z.strictObject({
            role: z.literal('endpoints'),
            namespaces: z.strictObject({ names: z.tuple([z.string()]) }),
          }),
        ]),
        relabel_configs: z.array(z.record(z.string(), z.unknown())).min(1),
      }),
    ]),
  });

  it('passes promtool check config, discovery aside (Debian builds Prometheus without Kubernetes discovery)', async () => {
    const shipped = scrapeSchema.parse(parse(readFileSync(SCRAPE_CONFIG, 'utf8')));
    const { kubernetes_sd_configs: _discovery, ...job } = shipped.scrape_configs[0];
    const dir = await mkdtemp(join(tmpdir(), 'dns-tuner-scrape-config-'));
    try {
      await copyFile(RULES, join(dir, 'rules.yaml'));
      const file = join(dir, 'prometheus.yml');
      await writeFile(
        file,
        stringify({ ...shipped, scrape_configs: [{ ...job, static_configs: [{ targets: ['127.0.0.1:8080'] }] }] }),
      );
      const result = await promtool(['check', 'config', file]);
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("discovers the shipped Service's namespace and keeps its metrics port", async () => {
    const shipped = scrapeSchema.parse(parse(readFileSync(SCRAPE_CONFIG, 'utf8')));
    const base = await kustomize(join(ROOT, 'manifests', 'base'));
    const service = findObject<V1Service>(base, 'Service');
    const job = shipped.scrape_configs[0];
    expect(job.kubernetes_sd_configs[0].namespaces.names).toEqual([service.metadata?.namespace]);
    const metricsPort = service.spec?.ports?.find((p) => p.name === 'metrics');
    expect(metricsPort).toBeDefined();
    expect(job.relabel_configs[0]).toEqual({
      source_labels: ['__meta_kubernetes_service_name', '__meta_kubernetes_endpoint_port_name'],
      regex: `${service.metadata?.name};${metricsPort?.name}`,
      action: 'keep',
    });
  });
});
