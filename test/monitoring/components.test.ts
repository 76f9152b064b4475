/**
 * The kustomize components (ServiceMonitor, PrometheusRule, Grafana dashboard) rendered the way a user includes them —
 * in their own kustomization, over an overlay, with the label patch docs/monitoring.md shows — by the real
 * `kubectl kustomize`, validated against the prometheus-operator schema, and wired to what the base ships. Also: the
 * generated copies are current, and the dashboard is one Grafana can import.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { V1ConfigMap, V1Deployment, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import {
  DASHBOARD_COPY,
  DASHBOARD_SOURCE,
  PROMETHEUS_RULE,
  prometheusRuleOf,
  RULES_SOURCE,
} from '../../lab/monitoring-components.ts';
import { ROOT } from '../../lab/paths.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import {
  findObject,
  type KubeObject,
  kustomize,
  matchesSelector,
  type PrometheusRuleObject,
  type ServiceMonitorObject,
  validateObject,
} from '../manifests/render.ts';
import { COMPONENTS, DASHBOARD, type DashboardPanel, panelsOf, RULES, readDashboard } from './kit.ts';

const RELEASE = 'kube-prometheus-stack';
let tmp = '';
let objects: KubeObject[];

beforeAll(async () => {
  // A user's kustomization: an overlay, the three components, and the release label kube-prometheus-stack selects on.
  tmp = await mkdtemp(join(tmpdir(), 'dns-tuner-components-'));
  await writeFile(
    join(tmp, 'kustomization.yaml'),
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      // kustomize takes relative paths only.
      resources: [relative(tmp, join(ROOT, 'manifests', 'overlays', 'cert-manager'))],
      components: ['service-monitor', 'prometheus-rule', 'grafana-dashboard'].map((c) =>
        relative(tmp, join(COMPONENTS, c)),
      ),
      patches: [
        {
          target: { group: 'monitoring.coreos.com', name: 'dns-tuner' },
          patch: stringify([{ op: 'add', path: '/metadata/labels/release', value: RELEASE }]),
        },
      ],
    }),
  );
  objects = await kustomize(tmp);
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the monitoring components in an overlay', () => {
  it('render, and every object validates (the components and the overlay they join)', () => {
    expect(objects.flatMap(validateObject)).toEqual([]);
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      const found = findObject(objects, kind, 'dns-tuner');
      expect(found.metadata).toMatchObject({ namespace: 'dns-tuner', labels: { release: RELEASE } });
    }
  });

  it('the ServiceMonitor scrapes the Service port that serves /metrics', () => {
    const monitor = findObject<ServiceMonitorObject>(objects, 'ServiceMonitor', 'dns-tuner');
    const service = findObject<V1Service>(objects, 'Service', 'dns-tuner');
    expect(monitor.spec.namespaceSelector.matchNames).toEqual([service.metadata?.namespace]);
    expect(matchesSelector(monitor.spec.selector, service.metadata?.labels ?? {})).toBe(true);
    // Only this Service: a selector that also matched another would scrape it under the same job.
    const services = objects.filter((o) => o.kind === 'Service');
    expect(services.filter((s) => matchesSelector(monitor.spec.selector, s.metadata.labels ?? {}))).toHaveLength(1);

    const [endpoint] = monitor.spec.endpoints;
    const port = service.spec?.ports?.find((p) => p.name === endpoint?.port);
    expect(endpoint).toMatchObject({ path: '/metrics', scheme: 'http' });
    // The port's target is the container port the --ops-port flag opens.
    const { container } = {
      container: findObject<V1Deployment>(objects, 'Deployment').spec?.template.spec?.containers[0],
    };
    const containerPort = container?.ports?.find((p) => p.name === port?.targetPort);
    const flags = parseFlags(container?.args ?? [], {});
    if (!flags.ok || flags.help) throw new Error('the Deployment args do not parse');
    expect(containerPort?.containerPort).toBe(flags.flags.opsPort);
  });

  it('the PrometheusRule carries exactly the rules file, and is what the script generates from it', () => {
    const rule = findObject<PrometheusRuleObject>(objects, 'PrometheusRule', 'dns-tuner');
    const plain = parse(readFileSync(RULES, 'utf8')) as { groups: unknown };
    expect(rule.spec.groups).toEqual(plain.groups);
    expect(readFileSync(PROMETHEUS_RULE, 'utf8'), 'run `npx node scripts/monitoring-components.ts`').toBe(
      prometheusRuleOf(readFileSync(RULES_SOURCE, 'utf8')),
    );
  });

  it("the dashboard ConfigMap holds the dashboard, labelled for Grafana's sidecar", () => {
    const map = findObject<V1ConfigMap>(objects, 'ConfigMap', 'dns-tuner-dashboard');
    expect(map.metadata?.labels?.grafana_dashboard).toBe('1');
    expect(map.data?.['dns-tuner.json']).toBe(readFileSync(DASHBOARD, 'utf8'));
    expect(readFileSync(DASHBOARD_COPY, 'utf8'), 'run `npx node scripts/monitoring-components.ts`').toBe(
      readFileSync(DASHBOARD_SOURCE, 'utf8'),
    );
  });
});

/** Grafana's variable reference, not a JavaScript template. */
const DATASOURCE_VARIABLE = '$' + '{datasource}';
const datasource = z.strictObject({ type: z.literal('prometheus'), uid: z.literal(DATASOURCE_VARIABLE) });
const target = z.looseObject({ refId: z.string().regex(/^[A-Z]$/), expr: z.string().min(1), datasource });
const panelSchema = z.looseObject({
  id: z.number().int().positive(),
  type: z.enum(['row', 'stat', 'timeseries', 'table']),
  title: z.string().min(1),
  gridPos: z.strictObject({
    h: z.number().int().positive(),
    w: z.number().int().min(1).max(24),
    x: z.number().int().min(0).max(23),
    y: z.number().int().min(0),
  }),
});
const dashboardSchema = z.looseObject({
  uid: z.literal('dns-tuner'),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  templating: z.looseObject({
    list: z.tuple([
      z.looseObject({ name: z.literal('datasource'), type: z.literal('datasource'), query: z.literal('prometheus') }),
    ]),
  }),
  panels: z.array(panelSchema).min(1),
});

describe('the dashboard', () => {
  const dashboard = readDashboard();
  const panels = panelsOf(dashboard);

  it('is a Grafana dashboard: the fields import reads, a Prometheus data source variable', () => {
    expect(() => dashboardSchema.parse(dashboard)).not.toThrow();
  });

  it('has unique panel ids, and every query panel reads the data source variable with unique refIds', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const problems: string[] = [];
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      if (!datasource.safeParse(panel.datasource).success) problems.push(`${panel.title}: data source`);
      const targets = panel.targets ?? [];
      if (targets.length === 0) problems.push(`${panel.title}: no query`);
      for (const t of targets) {
        const parsed = target.safeParse(t);
        if (!parsed.success) problems.push(`${panel.title} ${t.refId}: ${parsed.error.issues[0]?.message}`);
      }
      if (new Set(targets.map((t) => t.refId)).size !== targets.length) problems.push(`${panel.title}: refIds`);
    }
    expect(problems).toEqual([]);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const overlaps = (a: DashboardPanel, b: DashboardPanel) =>
      a.gridPos.x < b.gridPos.x + b.gridPos.w &&
      b.gridPos.x < a.gridPos.x + a.gridPos.w &&
      a.gridPos.y < b.gridPos.y + b.gridPos.h &&
      b.gridPos.y < a.gridPos.y + a.gridPos.h;
    const problems: string[] = [];
    panels.forEach((a, i) => {
      if (a.gridPos.x + a.gridPos.w > 24) problems.push(`${a.title}: wider than the grid`);
      for (const b of panels.slice(i + 1)) if (overlaps(a, b)) problems.push(`${a.title} overlaps ${b.title}`);
    });
    expect(problems).toEqual([]);
  });
});
