/**
 * The monitoring kit's files and what the tests read out of them: the metrics README.md documents, the alerting
 * rules, the dashboard's queries, and the metric names an expression uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ROOT } from '../../lab/paths.ts';

export const MONITORING = join(ROOT, 'manifests', 'monitoring');
export const RULES = join(MONITORING, 'rules.yaml');
export const RULE_TESTS = join(MONITORING, 'rules.test.yaml');
export const DASHBOARD = join(MONITORING, 'dashboard.json');
export const SCRAPE_CONFIG = join(MONITORING, 'prometheus.yaml');
export const RUNBOOK = join(ROOT, 'docs', 'monitoring.md');
export const COMPONENTS = join(ROOT, 'manifests', 'components');

/** The scrape job the alerts and the ServiceMonitor agree on (the Service's name). */
export const JOB = 'dns-tuner';

/**
 * Metrics the alerts and the dashboard use before README.md documents them: announced by work in progress elsewhere
 * (annotation typos). Once README.md lists one, the real-scrape test requires it like any other.
 */
export const ANNOUNCED_METRICS = new Set<string>();

export interface DocumentedMetric {
  /** A full name, or a prefix when the README writes `process_*`. */
  name: string;
  wildcard: boolean;
  labels: string[];
}

/** Every metric in README.md's metrics table (`| metric | what |`), with the labels written in `{…}`. */
export function documentedMetrics(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): DocumentedMetric[] {
  const lines = readme.split('\n');
  const header = lines.findIndex((line) => /^\|\s*metric\s*\|\s*what\s*\|/.test(line));
  if (header === -1) throw new Error('README.md has no `| metric | what |` table');
  const metrics: DocumentedMetric[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cell = line.split('|')[1] ?? '';
    for (const [, code] of cell.matchAll(/`([^`]+)`/g)) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\*)?(?:\{([^}]*)\})?$/.exec(code!.trim());
      if (!match) throw new Error(`README.md metrics table: cannot read \`${code}\``);
      const labels = match[3] ? match[3].split(',').map((l) => l.trim()) : [];
      metrics.push({ name: match[1]!, wildcard: match[2] === '*', labels });
    }
  }
  if (metrics.length === 0) throw new Error('README.md metrics table is empty');
  return metrics;
}

const ruleSchema = z.strictObject({
  alert: z.string().regex(/^DnsTuner[A-Za-z]+$/),
  expr: z.string().min(1),
  for: z.string().optional(),
  labels: z.strictObject({ severity: z.enum(['critical', 'warning', 'info']) }),
  annotations: z.strictObject({
    summary: z.string().min(1),
    description: z.string().min(1),
    runbook_url: z.string().regex(/^docs\/monitoring\.md#[a-z0-9-]+$/),
  }),
});
const rulesFileSchema = z.strictObject({
  groups: z.array(z.strictObject({ name: z.string(), rules: z.array(ruleSchema).min(1) })).length(1),
});
export type AlertRule = z.infer<typeof ruleSchema>;

/** The alerting rules, validated: every one has a severity, a summary, a description and a runbook anchor. */
export function alertRules(text = readFileSync(RULES, 'utf8')): AlertRule[] {
  return rulesFileSchema.parse(parse(text)).groups.flatMap((g) => g.rules);
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { type: string; uid: string } }>;
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query: string }> };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function panelsOf(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

export function dashboardQueries(dashboard = readDashboard()): DashboardQuery[] {
  return panelsOf(dashboard).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })),
  );
}

/**
 * A dashboard query as Grafana sends it: its global variables replaced. `$__rate_interval` is at least four scrape
 * intervals; the tests scrape every second.
 */
export function grafanaExpand(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$__interval', '15s');
}

/** The dns_tuner_* metric names an expression reads (histogram series reduced to the histogram's name). */
export function dnsTunerMetrics(expr: string): string[] {
  const names = [...expr.matchAll(/\bdns_tuner_[a-z0-9_]+/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, ''));
  return [...new Set(names)];
}

/**
 * The PromQL of README.md's "Auditing running pods" section (when to run `dns-tuner audit`): each expression of its
 * ```promql block, comments dropped, continuation lines joined.
 */
export function auditRecipeQueries(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): string[] {
  const section = readme.slice(readme.indexOf('## Auditing running pods'));
  const block = /```promql\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf('\n## ', 1)))?.[1];
  if (block === undefined) throw new Error('README.md "Auditing running pods" has no ```promql block');
  return block
    .split(/\n\s*\n/)
    .map((chunk) =>
      chunk
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('#'))
        .join(' ')
        .trim(),
    )
    .filter((expr) => expr !== '');
}
