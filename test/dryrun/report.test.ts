/**
 * The pure report pieces on their own: the diff, the input reader, the name forms, and the warnings the report adds
 * to the engine's (kubelet truncation, musl's line limit, model caveats) — run through the webhook's own reviewPod,
 * without a server, the way `dns-tuner explain` runs offline.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/types.ts';
import { unifiedDiff } from '../../src/dryrun/diff.ts';
import { objectsOf, parseNames, parseYamlDocuments, toTarget } from '../../src/dryrun/input.ts';
import { createDryRunService, type DryRunServiceDeps } from '../../src/dryrun/service.ts';
import { formatReportText } from '../../src/dryrun/text.ts';
import { nameForms } from '../../src/resolver-model/name-forms.ts';
import { exampleDeps } from '../support/webhook.ts';

let config: Config;
let deps: DryRunServiceDeps;
const runDryRun = (
  d: DryRunServiceDeps,
  body: unknown,
  params?: Parameters<ReturnType<typeof createDryRunService>['run']>[1],
) => createDryRunService(d).run(body, params);

beforeAll(async () => {
  const example = await exampleDeps();
  config = example.config;
  deps = { getConfig: () => config, namespaces: example.namespaces, lookupTimeoutMs: 2000 };
});

const pod = (namespace: string, spec: Record<string, unknown> = {}, annotations?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'c', image: 'alpine' }], ...spec },
});

describe('unifiedDiff', () => {
  it('prints removals before additions and keeps common lines as context', () => {
    expect(unifiedDiff('a\nb\nc\n', 'a\nx\nc\nd\n')).toBe(
      '--- before\n+++ after\n@@ -1,3 +1,4 @@\n a\n-b\n+x\n c\n+d\n',
    );
  });
  it('handles identical and empty texts', () => {
    expect(unifiedDiff('a\n', 'a\n')).toBe('--- before\n+++ after\n@@ -1 +1 @@\n a\n');
    expect(unifiedDiff('', 'a\n')).toBe('--- before\n+++ after\n@@ -0,0 +1 @@\n+a\n');
  });
});

describe('reading input', () => {
  it('names the line of a YAML error in a later document', () => {
    const docs = parseYamlDocuments('kind: Pod\n---\nkind: Pod\nmetadata: {name: [\n');
    expect(docs.ok).toBe(false);
    if (!docs.ok) expect(docs.error.message).toMatch(/^not valid YAML: line [45], column \d+: /);
  });

  it('splits Lists and multi-document streams into objects, dropping empty documents', () => {
    const docs = parseYamlDocuments(
      'kind: List\nitems: [{kind: Pod}, {kind: Job}]\n---\n# nothing\n---\nkind: Service\n',
    );
    expect(docs.ok && objectsOf(docs.value).map((o) => (o as { kind: string }).kind)).toEqual([
      'Pod',
      'Job',
      'Service',
    ]);
  });

  it('points at the template field, not the synthetic pod, for a bad workload', () => {
    const bad = {
      kind: 'DaemonSet',
      metadata: { name: 'd', namespace: 'shop' },
      spec: { template: { spec: { hostNetwork: 'yes' } } },
    };
    const target = toTarget(bad);
    expect(target.ok).toBe(false);
    if (!target.ok)
      expect(target.error.message).toMatch(/^the pod cannot be read: DaemonSet spec\.template\.spec\.hostNetwork: /);
  });

  it('validates extra names and bounds their number', () => {
    expect(parseNames(['a.example.com, b', 'a.example.com'])).toEqual({ ok: true, value: ['a.example.com', 'b'] });
    expect(parseNames('bad..name').ok).toBe(false);
    expect(parseNames(`x${'.y'.repeat(10)}`).ok).toBe(true);
    expect(parseNames(Array.from({ length: 40 }, (_, i) => `n${i}`).join(',')).ok).toBe(false);
  });
});

describe('name forms', () => {
  it('reads extra names: no dots = a Service here, <svc>.<ns>.svc and the cluster domain = in-cluster, else external', () => {
    const forms = nameForms('shop', 'cluster.local', [
      'redis',
      'a.b.svc',
      'x.y.svc.cluster.local',
      'db.example.org',
      'fqdn.example.',
    ]);
    const extra = forms.slice(-5).map((f) => [f.name, f.kind, f.inCluster, f.target]);
    expect(extra).toEqual([
      ['redis', 'svc', true, 'redis.shop.svc.cluster.local'],
      ['a.b.svc', 'svc.ns.svc', true, 'a.b.svc.cluster.local'],
      ['x.y.svc.cluster.local', 'svc.ns.svc.domain', true, 'x.y.svc.cluster.local'],
      ['db.example.org', 'external', false, 'db.example.org'],
      ['fqdn.example.', 'external', false, 'fqdn.example'],
    ]);
    // A default form given again is not listed twice.
    expect(nameForms('shop', 'cluster.local', ['my-svc']).filter((f) => f.name === 'my-svc')).toHaveLength(1);
  });
});

describe('warnings beyond the engine’s', () => {
  it('reports kubelet cutting the nameserver line, before and after', async () => {
    const { report } = await runDryRun(
      deps,
      pod('payments', { dnsConfig: { nameservers: ['1.1.1.1', '8.8.8.8', '9.9.9.9'] } }),
    );
    expect(report.decision).toBe('mutated');
    expect(report.resolvConf?.after.nameservers).toEqual(['10.96.0.10', '1.1.1.1', '8.8.8.8']);
    const kubelet = report.warnings.filter((w) => w.source === 'kubelet').map((w) => w.message);
    expect(kubelet).toEqual([
      'before: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.96.0.10 1.1.1.1 8.8.8.8',
      'after: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.96.0.10 1.1.1.1 8.8.8.8',
    ]);
    expect(report.warnings.map((w) => w.message)).toContain(
      'musl/Alpine sends every query to all 3 nameservers (10.96.0.10, 1.1.1.1, 8.8.8.8), not just on failure',
    );
  });

  it('explains names that fail on musl before and after when the node search line is past 255 bytes', async () => {
    // The rewrite keeps every search domain kubelet keeps (ADR 2), so musl ignores the line with or without us.
    const hostSearchDomains = Array.from({ length: 10 }, (_, i) => `zone${i}.corp-internal.example.com`);
    const { report } = await runDryRun({ ...deps, getConfig: () => ({ ...config, hostSearchDomains }) }, pod('shop'));
    const svc = report.queryCost?.rows.find((r) => r.name === 'my-svc');
    expect(svc?.musl.before.resolves).toBe(false);
    expect(svc?.musl.after.resolves).toBe(false);
    expect(report.warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/^now: search line is \d+ bytes: musl\/Alpine ignores lines of 255\+ bytes/),
    );
    expect(formatReportText(report)).toMatch(/^ {2}my-svc +0 +2 → 2 +2✗ → 4✗ /m);
  });

  it('says where a name is broken on musl and why, and passes on the model’s rotate caveat', async () => {
    const { report } = await runDryRun(
      deps,
      pod('shop', { dnsConfig: { options: [{ name: 'ndots', value: '1' }] } }, { 'dns-tuner.io/options': 'rotate' }),
    );
    expect(report.settings?.ndots).toEqual({ value: 1, source: 'pod-spec', from: 'spec.dnsConfig' });
    expect(report.warnings.map((w) => w.message)).toContain(
      '"my-svc.shop.svc" (2 dots) does not resolve on musl/Alpine with ndots:1: musl never searches names with >= ndots dots',
    );
    const text = formatReportText(report);
    expect(text).toContain('note: rotate: each name asked starts at the next nameserver');
    expect(text).toMatch(/option +rotate +pod annotation dns-tuner\.io\/options/);
  });

  it('shows an author’s ndots as the resolvers read it: "abc" is 0, "1e3" is 1 (never NaN or 1000)', async () => {
    for (const [value, read] of [
      ['abc', 0],
      ['1e3', 1],
      ['07', 7],
      ['99', 15],
    ] as const) {
      const { report } = await runDryRun(deps, pod('shop', { dnsConfig: { options: [{ name: 'ndots', value }] } }));
      expect(report.settings?.ndots, value).toEqual({ value: read, source: 'pod-spec', from: 'spec.dnsConfig' });
      expect(formatReportText(report)).not.toContain('NaN');
    }
  });

  it('never sends a control character or a bidi override from the pod to the terminal', async () => {
    const evil = 'x\u001b[2J\u001b]0;owned\u0007\u202e';
    const { report } = await runDryRun(
      deps,
      pod('shop', { dnsConfig: { options: [{ name: `opt${evil}`, value: evil }] } }, { 'dns-tuner.io/options': evil }),
    );
    const text = formatReportText(report);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters.
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(text).toContain('\\u001b[2J');
  });

  it('leaves the cost out for a pod on the node’s resolver, which dns-tuner cannot see', async () => {
    const { report } = await runDryRun(deps, pod('shop', { dnsPolicy: 'Default' }));
    expect(report).toMatchObject({ decision: 'skipped', reason: 'dns-policy-default', queryCost: null });
    expect(formatReportText(report)).toContain("Query cost: not modelled, the pod uses the node's own resolv.conf");
  });
});
