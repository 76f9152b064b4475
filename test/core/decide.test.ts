import { describe, expect, it } from 'vitest';
import { ANNOTATION_APPLIED, type Decision } from '../../src/core/types.ts';
import { validatePodDns } from '../../src/core/validation.ts';
import { configFrom, exampleConfig, namespace, patched, pod, run } from '../support/engine.ts';

const config = exampleConfig();
const shop = namespace('shop', 'default');

function spec(result: Record<string, unknown>): Record<string, unknown> {
  return result.spec as Record<string, unknown>;
}

function mutated(decision: Decision) {
  if (decision.action === 'skip') throw new Error(`expected a mutation, got skip: ${decision.message}`);
  return decision;
}

describe('decide: node-local policy (the example default)', () => {
  it('switches a ClusterFirst pod to None with the cache first, kube-dns second, the cluster searches and ndots:3', () => {
    const raw = pod();
    const d = mutated(run(config, raw, shop));
    expect(d.action).toBe('mutate');
    const out = patched(raw, d);
    expect(spec(out).dnsPolicy).toBe('None');
    expect(spec(out).dnsConfig).toEqual({
      nameservers: ['169.254.20.10', '10.96.0.10'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      options: [
        { name: 'ndots', value: '3' },
        { name: 'single-request-reopen' },
        { name: 'timeout', value: '1' },
        { name: 'attempts', value: '2' },
      ],
    });
    const annotations = (out.metadata as { annotations: Record<string, string> }).annotations;
    expect(annotations[ANNOTATION_APPLIED]).toBe(
      'default: dnsPolicy=None nameservers=169.254.20.10,10.96.0.10 options=ndots:3,single-request-reopen,timeout:1,attempts:2',
    );
    expect(d.auditAnnotations).toEqual({ policy: 'default', applied: d.summary });
  });

  it('is idempotent: the mutated pod gets no patch on reinvocation', () => {
    const raw = pod();
    const once = patched(raw, run(config, raw, shop));
    const again = run(config, once, shop);
    expect(again.action).toBe('skip');
    expect(again.action === 'skip' && again.reason).toBe('already-applied');
  });

  it('writes ndots:5 under None when the policy sets none (None has no kubelet default)', () => {
    const cfg = configFrom({
      clusterDNS: '10.96.0.10',
      nodeLocalDNS: '169.254.20.10',
      policies: { default: { nodeLocal: true, options: ['timeout:1'] } },
    });
    const out = patched(pod(), run(cfg, pod(), shop));
    expect((spec(out).dnsConfig as { options: unknown[] }).options).toEqual([
      { name: 'ndots', value: '5' },
      { name: 'timeout', value: '1' },
    ]);
  });

  it('keeps what the author wrote: their ndots, nameservers, searches and options (their values win)', () => {
    const raw = pod({
      dnsConfig: {
        nameservers: ['1.1.1.1'],
        searches: ['corp.example'],
        options: [{ name: 'ndots', value: '1' }, { name: 'timeout', value: '4' }, { name: 'edns0' }],
      },
    });
    const out = patched(raw, run(config, raw, shop));
    expect(spec(out).dnsConfig).toEqual({
      nameservers: ['169.254.20.10', '10.96.0.10', '1.1.1.1'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'],
      options: [
        { name: 'ndots', value: '1' },
        { name: 'timeout', value: '4' },
        { name: 'edns0' },
        { name: 'single-request-reopen' },
        { name: 'attempts', value: '2' },
      ],
    });
  });

  it('keeps ClusterFirst with options only when the author names two nameservers: no room for node-local and kube-dns', () => {
    const raw = pod({ dnsConfig: { nameservers: ['1.1.1.1', '8.8.8.8'] } });
    const d = mutated(run(config, raw, shop));
    expect(d.after).toEqual({
      dnsPolicy: 'ClusterFirst',
      dnsConfig: {
        nameservers: ['1.1.1.1', '8.8.8.8'],
        options: [
          { name: 'ndots', value: '3' },
          { name: 'single-request-reopen' },
          { name: 'timeout', value: '1' },
          { name: 'attempts', value: '2' },
        ],
      },
    });
    expect(d.nodeLocalDeclined?.reason).toBe('nameservers-full');
    expect(d.warnings).toContain(
      'dns-tuner: options only: nameservers 1.1.1.1, 8.8.8.8 leave no room for node-local and the kube-dns fallback (3 at most)',
    );
  });

  it("keeps every search domain kubelet would keep, even past musl's 255-byte line (musl ignores it either way)", () => {
    const long = Array.from({ length: 6 }, (_, i) => `${'d'.repeat(40)}${i}.example.com`);
    const cfg = { ...config, hostSearchDomains: long.slice(0, 3) };
    const raw = pod({ dnsConfig: { searches: long.slice(3) } });
    const d = mutated(run(cfg, raw, shop));
    expect(d.after.dnsConfig?.searches).toEqual([
      'shop.svc.cluster.local',
      'svc.cluster.local',
      'cluster.local',
      ...long,
    ]);
    expect(d.warnings.some((w) => w.includes('search domain'))).toBe(false);
    expect(validatePodDns(d.after)).toEqual([]);
  });

  it('treats ClusterFirstWithHostNet like ClusterFirst', () => {
    const raw = pod({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true });
    expect(mutated(run(config, raw, shop)).after.dnsPolicy).toBe('None');
  });
});

describe('decide: options-only policy', () => {
  const ns = namespace('batch', 'options-only');
  it('keeps ClusterFirst and adds only the options', () => {
    const raw = pod({}, { namespace: 'batch' });
    const d = mutated(run(config, raw, ns));
    expect(d.after).toEqual({
      dnsPolicy: 'ClusterFirst',
      dnsConfig: {
        options: [{ name: 'single-request-reopen' }, { name: 'timeout', value: '2' }, { name: 'attempts', value: '3' }],
      },
    });
    const again = run(config, patched(raw, d), ns);
    expect(again.action).toBe('unchanged');
    expect(again.action !== 'skip' && again.patch).toEqual([]);
  });

  it('ignores pod overrides the policy does not allow, with a warning naming them', () => {
    const raw = pod({}, { annotations: { 'dns-tuner.io/ndots': '1' } });
    const d = mutated(run(config, raw, ns));
    expect(d.settings.ndots.value).toBeUndefined();
    expect(d.warnings).toContain(
      'dns-tuner: policy options-only does not allow pod overrides; ignored dns-tuner.io/ndots',
    );
  });
});

describe('decide: who is left alone', () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string]> = [
    ['dnsPolicy Default', { dnsPolicy: 'Default' }, {}, 'dns-policy-default'],
    ['dnsPolicy None', { dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'] } }, {}, 'dns-policy-none'],
    ['hostNetwork with ClusterFirst', { hostNetwork: true }, {}, 'host-network'],
    ['Windows pods', { os: { name: 'windows' } }, {}, 'windows'],
    ['pods annotated skip', {}, { annotations: { 'dns-tuner.io/skip': 'true' } }, 'pod-opt-out'],
    ['pods labelled skip (the objectSelector label)', {}, { labels: { 'dns-tuner.io/skip': 'true' } }, 'pod-opt-out'],
  ];
  it.each(cases)('%s', (_name, podSpec, metadata, reason) => {
    const d = run(config, pod(podSpec, metadata), shop);
    expect(d.action === 'skip' && d.reason).toBe(reason);
  });

  it('namespaces without the label, unknown namespaces and unknown policies (with a warning)', () => {
    expect(run(config, pod(), namespace('shop', undefined))).toMatchObject({ reason: 'namespace-not-opted-in' });
    expect(run(config, pod(), undefined)).toMatchObject({ reason: 'namespace-unknown' });
    expect(run(config, pod(), namespace('shop', 'nope'))).toMatchObject({
      reason: 'unknown-policy',
      warnings: ['dns-tuner: namespace shop asks for unknown policy "nope", pod left unchanged'],
    });
    expect(run(config, pod(), undefined, { namespaceError: 'timeout' })).toMatchObject({
      reason: 'namespace-unavailable',
      warnings: ['dns-tuner: namespace shop unavailable, pod admitted unchanged'],
    });
  });
});

describe('decide: annotations', () => {
  it('namespace annotations refine the policy; pod annotations refine it further', () => {
    const ns = namespace('shop', 'default', {
      'dns-tuner.io/ndots': '2',
      'dns-tuner.io/options': 'rotate,-single-request-reopen',
      'dns-tuner.io/fallback': 'false',
    });
    const raw = pod({}, { annotations: { 'dns-tuner.io/options': 'timeout:3', 'dns-tuner.io/node-local': 'true' } });
    const d = mutated(run(config, raw, ns));
    expect(d.after.dnsConfig).toEqual({
      nameservers: ['169.254.20.10'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      options: [
        { name: 'ndots', value: '2' },
        { name: 'timeout', value: '3' },
        { name: 'attempts', value: '2' },
        { name: 'rotate' },
      ],
    });
    expect(d.settings.ndots).toEqual({ value: 2, source: 'namespace-annotation', from: 'dns-tuner.io/ndots' });
    expect(d.settings.options.find((o) => o.value.name === 'timeout')).toEqual({
      value: { name: 'timeout', value: '3' },
      source: 'pod-annotation',
      from: 'dns-tuner.io/options',
    });
    expect(d.settings.fallback.source).toBe('namespace-annotation');
  });

  it('a pod can turn node-local off and keep ClusterFirst', () => {
    const raw = pod({}, { annotations: { 'dns-tuner.io/node-local': 'false' } });
    expect(mutated(run(config, raw, shop)).after.dnsPolicy).toBe('ClusterFirst');
  });

  const bad: Array<[string, string, string]> = [
    [
      'dns-tuner.io/ndots',
      'abc',
      'dns-tuner: ignored pod annotation dns-tuner.io/ndots="abc": needs a whole number 0-15',
    ],
    [
      'dns-tuner.io/ndots',
      '16',
      'dns-tuner: ignored pod annotation dns-tuner.io/ndots="16": needs a whole number 0-15',
    ],
    [
      'dns-tuner.io/options',
      'timeout:0',
      'dns-tuner: ignored pod annotation dns-tuner.io/options="timeout:0": timeout must be 1-30',
    ],
    [
      'dns-tuner.io/options',
      'attempts:9',
      'dns-tuner: ignored pod annotation dns-tuner.io/options="attempts:9": attempts must be 1-5',
    ],
    [
      'dns-tuner.io/options',
      'turbo',
      'dns-tuner: ignored pod annotation dns-tuner.io/options="turbo": unknown option "turbo"',
    ],
    [
      'dns-tuner.io/options',
      'rotate:1',
      'dns-tuner: ignored pod annotation dns-tuner.io/options="rotate:1": rotate takes no value',
    ],
    [
      'dns-tuner.io/node-local',
      'yes',
      'dns-tuner: ignored pod annotation dns-tuner.io/node-local="yes": must be "true" or "false"',
    ],
  ];
  it.each(bad)(
    'a bad %s=%s is ignored with a warning naming it; the pod is still mutated validly',
    (key, value, warning) => {
      const raw = pod({}, { annotations: { [key]: value } });
      const d = mutated(run(config, raw, shop));
      expect(d.warnings).toContain(warning);
      expect(d.after).toEqual(mutated(run(config, pod(), shop)).after);
    },
  );
});

describe('decide: dry-run', () => {
  const raw = pod();
  const expectDryRun = (d: Decision) => {
    const m = mutated(d);
    expect(m.action).toBe('dry-run');
    expect(m.patch.length).toBeGreaterThan(0);
    expect(m.warnings[0]).toMatch(
      /^dns-tuner dry-run: would set dnsPolicy=None nameservers=169\.254\.20\.10,10\.96\.0\.10/,
    );
    expect(m.auditAnnotations['dry-run-would-set']).toBe(m.summary);
  };
  it('global mode', () => expectDryRun(run({ ...config, mode: 'dry-run' }, raw, shop)));
  it('namespace annotation', () =>
    expectDryRun(run(config, raw, namespace('shop', 'default', { 'dns-tuner.io/mode': 'dry-run' }))));
  it('pod annotation, even where the policy forbids other overrides', () => {
    const cfg = { ...config, policies: { default: { ...config.policies.default!, podOverrides: false } } };
    expectDryRun(run(cfg, pod({}, { annotations: { 'dns-tuner.io/mode': 'dry-run' } }), shop));
  });
  it('a pod cannot undo a namespace dry-run with enforce', () => {
    const ns = namespace('shop', 'default', { 'dns-tuner.io/mode': 'dry-run' });
    expectDryRun(run(config, pod({}, { annotations: { 'dns-tuner.io/mode': 'enforce' } }), ns));
  });
});
