/**
 * The kustomize components' copies of the monitoring kit from its sources in manifests/monitoring/:
 * - components/prometheus-rule/prometheus-rule.yaml: a PrometheusRule whose `spec.groups` is rules.yaml's `groups`
 *   (comments kept), for prometheus-operator users;
 * - components/grafana-dashboard/dns-tuner.json: dashboard.json, byte for byte, for Grafana's dashboard sidecar.
 * kustomize only reads files under a component's own folder, hence the copies. scripts/monitoring-components.ts writes
 * them; test/monitoring/components.test.ts fails when they differ from what it would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isMap, isSeq, parseDocument } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const RULES_SOURCE = join(root, 'manifests', 'monitoring', 'rules.yaml');
export const DASHBOARD_SOURCE = join(root, 'manifests', 'monitoring', 'dashboard.json');
export const PROMETHEUS_RULE = join(root, 'manifests', 'components', 'prometheus-rule', 'prometheus-rule.yaml');
export const DASHBOARD_COPY = join(root, 'manifests', 'components', 'grafana-dashboard', 'dns-tuner.json');

/** The PrometheusRule for a rules file's text. */
export function prometheusRuleOf(rulesText: string): string {
  const rules = parseDocument(rulesText);
  if (rules.errors.length > 0) throw new Error(`${RULES_SOURCE}: ${rules.errors[0]?.message}`);
  const groups = isMap(rules.contents) ? rules.contents.get('groups', true) : undefined;
  if (!isSeq(groups)) throw new Error(`${RULES_SOURCE}: no groups list`);
  const doc = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'dns-tuner',
      namespace: 'dns-tuner',
      labels: { 'app.kubernetes.io/name': 'dns-tuner', 'app.kubernetes.io/part-of': 'dns-tuner' },
    },
    spec: { groups: null },
  });
  // The node itself, not its value: the comments on each alert come along.
  doc.setIn(['spec', 'groups'], groups);
  doc.commentBefore =
    ` Generated from manifests/monitoring/rules.yaml by \`npx node scripts/monitoring-components.ts\`: edit that\n` +
    ` file and re-run. prometheus-operator picks it up if its ruleSelector matches (kube-prometheus-stack: the label\n` +
    ` release=<its Helm release>; add it in your overlay, see docs/monitoring.md).`;
  return doc.toString({ lineWidth: 120 });
}

/** Writes both copies; returns the files written. */
export function writeMonitoringComponents(): string[] {
  writeFileSync(PROMETHEUS_RULE, prometheusRuleOf(readFileSync(RULES_SOURCE, 'utf8')));
  writeFileSync(DASHBOARD_COPY, readFileSync(DASHBOARD_SOURCE));
  return [PROMETHEUS_RULE, DASHBOARD_COPY];
}
