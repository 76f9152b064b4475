/**
 * The engine's invariants over random pods, policies and annotations (fast-check):
 * the patch applies cleanly to the raw object, the result passes the apiserver's validation, a second pass yields
 * no patch, and nothing outside spec.dnsPolicy, spec.dnsConfig and our annotation changes.
 */
import { isIP } from 'node:net';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { validateOption } from '../../src/core/resolver-options.ts';
import { ANNOTATION_APPLIED, type Config, type NamespaceInfo } from '../../src/core/types.ts';
import { searchLineLength, validatePodDns } from '../../src/core/validation.ts';
import { parsePodView } from '../../src/kube/pod.ts';
import { configFrom, run } from '../support/engine.ts';

const ip = fc.oneof(fc.ipV4(), fc.constantFrom('169.254.20.10', '10.96.0.10', 'fd00::a'));
const domain = fc.oneof(
  fc.constantFrom('ec2.internal', 'corp.example.com', 'eu-west-1.compute.internal', 'a.b'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,40}[a-z0-9]\.[a-z]{2,20}$/),
  fc.stringMatching(/^[a-z]{50,60}\.example\.com$/),
);
const flag = fc.constantFrom(
  'single-request-reopen',
  'single-request',
  'rotate',
  'edns0',
  'use-vc',
  'trust-ad',
  'no-aaaa',
);
const optionToken = fc.oneof(
  flag,
  fc.integer({ min: 1, max: 30 }).map((n) => `timeout:${n}`),
  fc.integer({ min: 1, max: 5 }).map((n) => `attempts:${n}`),
);
/** Annotation values: mostly well-formed, some not (they must be ignored, never reach the pod). */
const annotationValue = {
  'dns-tuner.io/ndots': fc.oneof(fc.integer({ min: 0, max: 20 }).map(String), fc.string({ maxLength: 6 })),
  'dns-tuner.io/options': fc.oneof(
    fc
      .array(
        fc.oneof(
          optionToken,
          flag.map((f) => `-${f}`),
          fc.constantFrom('ndots:2', '-ndots', 'bogus', 'timeout:99'),
        ),
        {
          maxLength: 4,
        },
      )
      .map((a) => a.join(',')),
    fc.string({ maxLength: 12 }),
  ),
  'dns-tuner.io/node-local': fc.constantFrom('true', 'false', 'yes', ''),
  'dns-tuner.io/fallback': fc.constantFrom('true', 'false', 'TRUE'),
  'dns-tuner.io/mode': fc.constantFrom('enforce', 'dry-run', 'audit'),
  'dns-tuner.io/pod-overrides': fc.constantFrom('true', 'false', '1'),
  'dns-tuner.io/skip': fc.constantFrom('true', 'false', 'maybe', 'false', 'false', 'false'),
};
const annotations = fc.record(annotationValue, { requiredKeys: [] }).chain((ours) =>
  fc
    .dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 })
    .map((other) => ({
      ...other,
      ...(ours as Record<string, string>),
    })),
);

const policy = fc.record({
  ndots: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
  options: fc.uniqueArray(optionToken, { maxLength: 4, selector: (t) => t.split(':')[0] }),
  nodeLocal: fc.boolean(),
  fallback: fc.boolean(),
  podOverrides: fc.boolean(),
});

const config: fc.Arbitrary<Config> = fc
  .record({
    clusterDomain: fc.constantFrom('cluster.local', 'k8s.example.org'),
    clusterDNS: ip,
    nodeLocalDNS: ip,
    hostSearchDomains: fc.uniqueArray(domain, { maxLength: 5 }),
    mode: fc.constantFrom('enforce', 'dry-run', 'enforce'),
    policies: fc.dictionary(fc.constantFrom('default', 'tight', 'opts'), policy, { minKeys: 1 }),
  })
  .map((doc) => configFrom(JSON.parse(JSON.stringify(doc))));

const namespaceInfo = (policies: string[]): fc.Arbitrary<NamespaceInfo> =>
  fc.record({
    name: fc.constantFrom('shop', 'payments-prod', 'x'),
    labels: fc
      .option(fc.constantFrom(...policies, 'missing'), { nil: undefined })
      .map((p): Record<string, string> => (p === undefined ? {} : { 'dns-tuner.io/policy': p })),
    annotations,
  });

/** Raw pods with fields the engine does not model, which must survive untouched. */
const rawPod = fc
  .record({
    annotations: fc.option(annotations, { nil: undefined }),
    dnsPolicy: fc.option(fc.constantFrom('ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'), {
      nil: undefined,
    }),
    hostNetwork: fc.option(fc.boolean(), { nil: undefined }),
    os: fc.constantFrom(undefined, undefined, undefined, undefined, 'linux', 'windows'),
    dnsConfig: fc.option(
      fc.record(
        {
          nameservers: fc.uniqueArray(ip, { maxLength: 3 }),
          searches: fc.uniqueArray(domain, { maxLength: 4 }),
          options: fc
            .uniqueArray(
              fc.oneof(
                optionToken,
                fc.integer({ min: 0, max: 15 }).map((n) => `ndots:${n}`),
              ),
              { maxLength: 4, selector: (t) => t.split(':')[0] },
            )
            .map((tokens) =>
              tokens.map((t) => {
                const [name, value] = t.split(':');
                return value === undefined ? { name: name! } : { name: name!, value };
              }),
            ),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    extraSpec: fc.dictionary(fc.constantFrom('priority', 'schedulerName', 'x-unknown', 'overhead'), fc.jsonValue(), {
      maxKeys: 2,
    }),
    extraTop: fc.dictionary(fc.constantFrom('status', 'x-extra'), fc.jsonValue(), { maxKeys: 2 }),
  })
  .map((p) => {
    const spec: Record<string, unknown> = {
      containers: [{ name: 'app', image: 'app:1', env: [{ name: 'A', value: 'b' }] }],
      ...p.extraSpec,
    };
    if (p.dnsPolicy !== undefined) spec.dnsPolicy = p.dnsPolicy;
    if (p.hostNetwork !== undefined) spec.hostNetwork = p.hostNetwork;
    if (p.os !== undefined) spec.os = { name: p.os };
    if (p.dnsConfig !== undefined) spec.dnsConfig = p.dnsConfig;
    if (p.dnsPolicy === 'None' && !p.dnsConfig?.nameservers?.length)
      spec.dnsConfig = { ...p.dnsConfig, nameservers: ['1.1.1.1'] };
    const metadata: Record<string, unknown> = { generateName: 'web-', labels: { app: 'web' } };
    if (p.annotations !== undefined) metadata.annotations = p.annotations;
    // Through JSON, as the webhook receives it (no -0, no undefined).
    return JSON.parse(JSON.stringify({ ...p.extraTop, apiVersion: 'v1', kind: 'Pod', metadata, spec })) as Record<
      string,
      unknown
    >;
  });

const scenario = config.chain((cfg) =>
  fc.record({ cfg: fc.constant(cfg), ns: namespaceInfo(Object.keys(cfg.policies)), raw: rawPod }),
);

/** The pod with the fields the webhook may write taken out. */
function untouchable(pod: Record<string, unknown>): unknown {
  const copy = structuredClone(pod) as {
    metadata?: { annotations?: Record<string, string> };
    spec?: Record<string, unknown>;
  };
  if (copy.spec) {
    delete copy.spec.dnsPolicy;
    delete copy.spec.dnsConfig;
  }
  const annotations = copy.metadata?.annotations;
  if (annotations) {
    delete annotations[ANNOTATION_APPLIED];
    if (Object.keys(annotations).length === 0) delete copy.metadata!.annotations;
  }
  return copy;
}

/** The apiserver's limits as ../shared/reference/kubernetes-dns.md states them: an oracle independent of src/. */
function referenceLimits(dns: {
  dnsPolicy: string;
  dnsConfig?: { nameservers?: string[]; searches?: string[] } | undefined;
}) {
  const problems: string[] = [];
  const ns = dns.dnsConfig?.nameservers ?? [];
  const searches = dns.dnsConfig?.searches ?? [];
  if (ns.length > 3) problems.push('more than 3 nameservers');
  if (ns.some((n) => isIP(n) === 0)) problems.push('nameserver not an IP');
  if (dns.dnsPolicy === 'None' && ns.length === 0) problems.push('None without nameservers');
  if (searches.length > 32) problems.push('more than 32 searches');
  if (searches.join(' ').length > 2048) problems.push('searches over 2048 chars');
  return problems;
}

function dnsOf(pod: Record<string, unknown>) {
  const view = parsePodView(pod);
  if (!view.ok) throw new Error(view.error);
  return { view: view.pod, dns: { dnsPolicy: view.pod.dnsPolicy ?? 'ClusterFirst', dnsConfig: view.pod.dnsConfig } };
}

describe('engine invariants', () => {
  it('the patch applies cleanly, touches only DNS fields and our annotation, and yields a valid pod', () => {
    const seen: Record<string, number> = {};
    fc.assert(
      fc.property(scenario, ({ cfg, ns, raw }) => {
        const before = structuredClone(raw);
        const d = run(cfg, raw, ns, { namespace: ns.name });
        expect(raw).toEqual(before); // the engine never mutates its input
        const kind = d.action === 'skip' ? d.reason : `${d.action}:${d.after.dnsPolicy}`;
        seen[kind] = (seen[kind] ?? 0) + 1;
        if (d.warnings.some((w) => w.includes('dropped search domain'))) seen.trimmed = (seen.trimmed ?? 0) + 1;
        if (d.action === 'skip') return;
        const result = jsonpatch.applyPatch(
          structuredClone(raw),
          d.patch as jsonpatch.Operation[],
          true,
          false,
        ).newDocument;
        expect(untouchable(result)).toEqual(untouchable(raw));
        const { dns } = dnsOf(result);
        if (d.action !== 'dry-run') expect(dns).toEqual({ dnsPolicy: d.after.dnsPolicy, dnsConfig: d.after.dnsConfig });
        if (validatePodDns(dnsOf(raw).dns).length === 0) {
          expect(validatePodDns(d.after)).toEqual([]);
          expect(referenceLimits(d.after)).toEqual([]);
        }
        // Every option the webhook wrote itself is one glibc accepts, with a value in range.
        const authors = new Set((dnsOf(raw).view.dnsConfig?.options ?? []).map((o) => o.name));
        for (const o of d.after.dnsConfig?.options ?? [])
          if (!authors.has(o.name)) expect(validateOption(o).ok).toBe(true);
        if (d.after.dnsPolicy === 'None' && d.after.dnsConfig?.searches) {
          expect(searchLineLength(d.after.dnsConfig.searches)).toBeLessThan(255);
        }
        for (const w of d.warnings) expect(w.length).toBeLessThanOrEqual(120);
      }),
      { numRuns: 1500 },
    );
    // The generators must reach every branch, or the property proves little.
    for (const kind of [
      'mutate:None',
      'mutate:ClusterFirst',
      'dry-run:None',
      'unknown-policy',
      'dns-policy-none',
      'trimmed',
    ]) {
      expect(seen[kind] ?? 0, `${kind} in ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(5);
    }
  });

  it('a second pass over the mutated pod yields an empty patch', () => {
    fc.assert(
      fc.property(scenario, ({ cfg, ns, raw }) => {
        const first = run(cfg, raw, ns, { namespace: ns.name });
        if (first.action !== 'mutate') return;
        const result = jsonpatch.applyPatch(
          structuredClone(raw),
          first.patch as jsonpatch.Operation[],
          true,
          false,
        ).newDocument;
        const second = run(cfg, result, ns, { namespace: ns.name });
        expect(second.action === 'skip' || second.action === 'unchanged').toBe(true);
        if (second.action !== 'skip') expect(second.patch).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });

  it('never throws on arbitrary annotation values', () => {
    const cfg = configFrom({ clusterDNS: '10.96.0.10', nodeLocalDNS: '169.254.20.10' });
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string()), fc.dictionary(fc.string(), fc.string()), (podAnn, nsAnn) => {
        const raw = { metadata: { annotations: podAnn }, spec: { dnsPolicy: 'ClusterFirst' } };
        const d = run(cfg, raw, { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' }, annotations: nsAnn });
        expect(['mutate', 'skip', 'dry-run', 'unchanged']).toContain(d.action);
      }),
      { numRuns: 500 },
    );
  });
});
