/**
 * The engine's invariants over random pods, policies and annotations (fast-check), with pods up to the apiserver's
 * extremes (3 nameservers, 32 searches, 2048 characters, 253-character entries, annotations near 256 KiB) and beyond:
 * the patch applies cleanly to the raw object, the result passes the apiserver's rules (annotation size included),
 * a second pass yields no patch, nothing outside spec.dnsPolicy, spec.dnsConfig and our annotation changes, the
 * node-local rewrite keeps every search domain and nameserver kubelet would keep and the kube-dns fallback the
 * settings ask for (ADR 2), a pod already past the limits is left alone, and the cost grows linearly with size.
 */

import { isIP } from 'node:net';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import {
  coreDnsConfigMap,
  denyAllEgress,
  dnsToKubeDnsOnly,
  dnsToNodeLocal,
  kubeDnsService,
  nodeLocalDaemonSet,
} from '../../lab/cluster-dns.ts';
import type { ObjectInput } from '../../lab/fake-kube-api.ts';
import type { ClusterFacts } from '../../src/core/cluster.ts';
import { clusterView, resolveConfig } from '../../src/core/cluster-rules.ts';
import { notANameserver, parseIp } from '../../src/core/ip.ts';
import { validateOption } from '../../src/core/resolver-options.ts';
import {
  ANNOTATION_APPLIED,
  CLUSTER_REASONS,
  type Config,
  type Decision,
  type NamespaceInfo,
} from '../../src/core/types.ts';
import { validatePodDns } from '../../src/core/validation.ts';
import { MAX_WARNINGS } from '../../src/core/warnings.ts';
import { parsePodView } from '../../src/kube/pod.ts';
import { type ClusterObjects, factsOf } from '../support/cluster.ts';
import { configFrom, run } from '../support/engine.ts';

const ip = fc.oneof(fc.ipV4(), fc.constantFrom('169.254.20.10', '10.96.0.10', 'fd00::a'));
/** What the config accepts for its own servers: an address a pod can reach (no loopback, multicast, …). */
const serverIp = ip.filter((value) => notANameserver(parseIp(value)!) === undefined);
const domain = fc.oneof(
  fc.constantFrom('ec2.internal', 'corp.example.com', 'eu-west-1.compute.internal', 'a.b', 'trailing.example.'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,40}[a-z0-9]\.[a-z]{2,20}$/),
  fc.stringMatching(/^[a-z]{50,60}\.example\.com$/),
);
/** Up to the apiserver's 253 characters: four labels of up to 60. */
const longDomain = fc
  .array(fc.stringMatching(/^[a-z][a-z0-9]{20,58}[a-z]$/), { minLength: 2, maxLength: 4 })
  .map((labels) => labels.join('.'));
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
  'dns-tuner.io/skip': fc.oneof(
    { weight: 12, arbitrary: fc.constant('false') },
    { weight: 1, arbitrary: fc.constantFrom('true', 'maybe', 'True') },
  ),
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
    clusterDomain: fc.option(fc.oneof(fc.constantFrom('cluster.local', 'k8s.example.org'), longDomain), {
      nil: undefined,
      freq: 6,
    }),
    clusterDNS: fc.option(serverIp, { nil: undefined, freq: 6 }),
    nodeLocalDNS: serverIp,
    nodeLocalMode: fc.constantFrom('auto', 'auto', 'auto', 'auto', 'link-local', 'transparent', 'off'),
    hostSearchDomains: fc.oneof(
      fc.uniqueArray(domain, { maxLength: 5 }),
      fc.uniqueArray(fc.oneof(domain, longDomain), { maxLength: 12 }),
    ),
    mode: fc.constantFrom('enforce', 'dry-run', 'enforce'),
    policies: fc.dictionary(fc.constantFrom('default', 'tight', 'opts'), policy, { minKeys: 1 }),
  })
  .map((doc) => configFrom(JSON.parse(JSON.stringify(doc))));

const namespaceInfo = (policies: string[]): fc.Arbitrary<NamespaceInfo> =>
  fc.record({
    name: fc.constantFrom('shop', 'payments-prod', 'x', `n${'s'.repeat(61)}n`),
    labels: fc
      .option(
        fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(...policies) },
          { weight: 1, arbitrary: fc.constant('missing') },
        ),
        { nil: undefined, freq: 8 },
      )
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
    os: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(undefined, 'linux') },
      { weight: 1, arbitrary: fc.constant('windows') },
    ),
    dnsConfig: fc.option(
      fc.record(
        {
          nameservers: fc.uniqueArray(ip, { maxLength: 3 }),
          searches: fc.oneof(
            fc.uniqueArray(domain, { maxLength: 4 }),
            fc.uniqueArray(fc.oneof(domain, longDomain), { maxLength: 32 }),
            fc.uniqueArray(domain, { minLength: 28, maxLength: 32 }),
          ),
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
    nodeSelector: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(undefined, { 'kubernetes.io/os': 'linux' }) },
      { weight: 1, arbitrary: fc.constant({ 'kubernetes.io/os': 'windows' }) },
    ),
    /** Bytes of an unrelated annotation: none, or enough to bring the total near the apiserver's 256 KiB. */
    filler: fc.oneof(
      { weight: 8, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 262_144 - 400, max: 262_144 - 20 }) },
    ),
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
    if (p.nodeSelector !== undefined) spec.nodeSelector = p.nodeSelector;
    if (p.dnsPolicy === 'None' && !p.dnsConfig?.nameservers?.length)
      spec.dnsConfig = { ...p.dnsConfig, nameservers: ['1.1.1.1'] };
    const metadata: Record<string, unknown> = { generateName: 'web-', labels: { app: 'web' } };
    if (p.annotations !== undefined) metadata.annotations = p.annotations;
    if (p.filler > 0) {
      const own = (p.annotations ?? {}) as Record<string, string>;
      const used = Object.entries(own).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
      const key = 'example.com/filler';
      metadata.annotations = { ...own, [key]: 'f'.repeat(Math.max(0, p.filler - used - key.length)) };
    }
    // Through JSON, as the webhook receives it (no -0, no undefined).
    return JSON.parse(JSON.stringify({ ...p.extraTop, apiVersion: 'v1', kind: 'Pod', metadata, spec })) as Record<
      string,
      unknown
    >;
  });

/**
 * What the cluster holds, random: each kind present or not (not readable), the kube-dns Service on the configured IP
 * or another (single or dual-stack), the Corefile's domain the configured one or another, a node-local DaemonSet on
 * the configured IP or another, transparent or not, with or without available pods, and the NetworkPolicies of the
 * namespace (default deny, DNS to kube-dns only, DNS to the cache, UDP only).
 */
const clusterObjects = (cfg: Config, namespaceName: string): fc.Arbitrary<ClusterObjects | undefined> => {
  const present = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 6 });
  const serviceIps = fc.oneof(
    { weight: 8, arbitrary: fc.constant(cfg.clusterDNS === undefined ? ['10.96.0.10'] : [cfg.clusterDNS]) },
    { weight: 1, arbitrary: fc.constantFrom(['10.0.0.10'], ['10.96.0.10', 'fd00:10::a'], [] as string[]) },
  );
  const policies: fc.Arbitrary<ObjectInput[]> = fc.oneof(
    { weight: 1, arbitrary: fc.constant<ObjectInput[]>([]) },
    {
      weight: 2,
      arbitrary: fc.subarray<ObjectInput>([
        denyAllEgress(namespaceName),
        dnsToKubeDnsOnly(namespaceName),
        dnsToNodeLocal(namespaceName, { udpOnly: true, name: 'udp-only' }),
        {
          metadata: { name: 'not-web', namespace: namespaceName },
          spec: {
            podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] },
            policyTypes: ['Egress'],
          },
        },
        denyAllEgress('elsewhere'),
      ]),
    },
  );
  const localIp = fc.constantFrom(
    cfg.nodeLocalDNS ?? '169.254.20.10',
    cfg.nodeLocalDNS ?? '169.254.20.10',
    '169.254.25.10',
  );
  const daemonSet = fc
    .record({
      transparent: fc.constantFrom(false, false, false, true),
      available: fc.constantFrom(0, 1, 3, 3, 3),
      localIp,
    })
    .map((o) => nodeLocalDaemonSet(o));
  return fc.option(
    fc.record({
      services: present(serviceIps.map((ips) => (ips.length === 0 ? [] : [kubeDnsService(ips)]))),
      configMaps: present(
        fc
          .oneof(
            { weight: 5, arbitrary: fc.constant(cfg.clusterDomain ?? 'cluster.local') },
            { weight: 1, arbitrary: fc.constant('other.example') },
          )
          .map((d) => [coreDnsConfigMap(d)]),
      ),
      daemonSets: present(
        fc.oneof({ weight: 4, arbitrary: daemonSet.map((ds) => [ds]) }, fc.array(daemonSet, { maxLength: 2 })),
      ),
      networkPolicies: present(policies),
    }),
    { nil: undefined, freq: 2 },
  );
};

const scenario = config.chain((cfg) =>
  namespaceInfo(Object.keys(cfg.policies)).chain((ns) =>
    fc.record({ cfg: fc.constant(cfg), ns: fc.constant(ns), raw: rawPod, objects: clusterObjects(cfg, ns.name) }),
  ),
);

function factsFor(objects: ClusterObjects | undefined, namespaceName: string): ClusterFacts | undefined {
  return objects === undefined ? undefined : factsOf(objects, namespaceName);
}

/** The config kubelet and the webhook really run with: the cluster's values in place of what the config leaves out. */
function effective(cfg: Config, facts: ClusterFacts | undefined): Config {
  return resolveConfig(cfg, clusterView(cfg, facts));
}

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

/**
 * The apiserver's limits as the reference (/work/shared/reference: kubernetes-dns.md, cluster-facts.md) states them:
 * an oracle independent of src/.
 */
function referenceLimits(
  dns: { dnsPolicy: string; dnsConfig?: { nameservers?: string[]; searches?: string[] } | undefined },
  annotations: Record<string, string> = {},
) {
  const problems: string[] = [];
  const ns = dns.dnsConfig?.nameservers ?? [];
  const searches = dns.dnsConfig?.searches ?? [];
  if (ns.length > 3) problems.push('more than 3 nameservers');
  if (ns.some((n) => isIP(n) === 0 || n.includes('%'))) problems.push('nameserver not an IP');
  if (dns.dnsPolicy === 'None' && ns.length === 0) problems.push('None without nameservers');
  if (searches.length > 32) problems.push('more than 32 searches');
  if (searches.join(' ').length > 2048) problems.push('searches over 2048 chars');
  if (searches.some((s) => s.replace(/\.$/, '').length > 253)) problems.push('a search over 253 chars');
  const bytes = Object.entries(annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (bytes > 262_144) problems.push('annotations over 256 KiB');
  return problems;
}

/**
 * What kubelet would write for the pod (pkg/kubelet/network/dns/dns.go): cluster searches, the node's (trailing dot
 * trimmed), the pod's, without duplicates, cut to 32 entries, entries over 253 dropped, cut to 2048 characters; and
 * nameservers [kube-dns, ...the pod's] without duplicates, cut to 3. `None` starts from nothing.
 */
function kubeletView(
  dns: { dnsPolicy: string; dnsConfig?: { nameservers?: string[]; searches?: string[] } | undefined },
  cfg: Config,
  namespace: string,
): { searches: string[]; nameservers: string[] } {
  const none = dns.dnsPolicy === 'None';
  const domain = cfg.clusterDomain!;
  const base = none
    ? []
    : [`${namespace}.svc.${domain}`, `svc.${domain}`, domain].concat(
        cfg.hostSearchDomains.map((s) => s.replace(/\.$/, '')),
      );
  const composed = [...new Set([...base, ...(dns.dnsConfig?.searches ?? [])])];
  let searches = composed.slice(0, 32).filter((s) => s.length <= 253);
  while (searches.join(' ').length > 2048) searches = searches.slice(0, -1);
  const servers = [...new Set([...(none ? [] : [cfg.clusterDNS!]), ...(dns.dnsConfig?.nameservers ?? [])])];
  return { searches, nameservers: servers.slice(0, 3) };
}

function annotationsOf(pod: Record<string, unknown>): Record<string, string> {
  return ((pod.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {}) as Record<
    string,
    string
  >;
}

/** ADR 2: what the rewrite must keep of the pod's DNS as kubelet would have built it. */
function expectAuthorKept(d: Decision, raw: Record<string, unknown>, cfg: Config, namespace: string): void {
  if (d.action === 'skip') return;
  const untouched = kubeletView(dnsOf(raw).dns, cfg, namespace);
  const tuned = kubeletView(d.after, cfg, namespace);
  for (const s of untouched.searches) expect(tuned.searches).toContain(s);
  for (const ip of untouched.nameservers) if (ip !== cfg.clusterDNS) expect(tuned.nameservers).toContain(ip);
  // A path to cluster DNS: kube-dns itself (ClusterFirst), or the fallback whenever the settings ask for one.
  if (d.after.dnsPolicy !== 'None' || d.settings.fallback.value) expect(tuned.nameservers).toContain(cfg.clusterDNS);
  if (d.settings.nodeLocal.value && d.after.dnsPolicy !== 'None') {
    expect(d.nodeLocalDeclined).toBeDefined();
    // Transparent mode and `off` are how the cluster is meant to work: no warning on every pod.
    const silent = ['node-local-transparent', 'node-local-off'].includes(d.nodeLocalDeclined!.reason);
    if (!silent) expect(d.warnings.some((w) => w.startsWith('dns-tuner: options only:'))).toBe(true);
  }
}

/**
 * Issue 10: never point a pod where its DNS cannot go. Every nameserver the webhook adds is the cache or a kube-dns IP
 * the cluster serves (when it could tell), the searches name the domain CoreDNS serves, and a cluster reason always
 * means options only.
 */
function expectServed(d: Decision, raw: Record<string, unknown>, cfg: Config, facts: ClusterFacts | undefined): void {
  if (d.action === 'skip') return;
  if (d.action === 'mutate' && d.reason !== 'policy-applied') expect(d.after.dnsPolicy).not.toBe('None');
  if (d.after.dnsPolicy !== 'None' || dnsOf(raw).dns.dnsPolicy === 'None') return;
  const author = new Set(dnsOf(raw).view.dnsConfig?.nameservers ?? []);
  const served = facts?.kubeDns?.ips.length ? facts.kubeDns.ips : [effective(cfg, facts).clusterDNS];
  for (const ip of d.after.dnsConfig?.nameservers ?? []) {
    if (!author.has(ip)) expect([cfg.nodeLocalDNS, ...served]).toContain(ip);
  }
  // A configured value the cluster contradicts keeps the pod on options only, even where the cluster's own would do.
  const view = clusterView(cfg, facts);
  expect(view.clusterDomain.mismatch).toBeUndefined();
  if (d.settings.fallback.value) expect(view.clusterDNS.mismatch).toBeUndefined();
  const zones = facts?.coreDns?.zones ?? [];
  if (zones.length > 0) expect(zones).toContain(effective(cfg, facts).clusterDomain!.replace(/\.$/, ''));
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
      fc.property(scenario, ({ cfg, ns, raw, objects }) => {
        const before = structuredClone(raw);
        const facts = factsFor(objects, ns.name);
        const d = run(cfg, raw, ns, { namespace: ns.name, clusterFacts: facts });
        expect(raw).toEqual(before); // the engine never mutates its input
        const kind = d.action === 'skip' ? d.reason : `${d.action}:${d.after.dnsPolicy}`;
        const count = (k: string) => {
          seen[k] = (seen[k] ?? 0) + 1;
        };
        count(kind);
        if (d.warnings.some((w) => w.includes("past kubelet's limits"))) count('kubelet-cut');
        if (d.action !== 'skip' && d.nodeLocalDeclined) count('options-only');
        const declined = d.action === 'skip' ? undefined : d.nodeLocalDeclined?.reason;
        if (declined !== undefined && (CLUSTER_REASONS as readonly string[]).includes(declined)) count(declined);
        if (d.warnings.some((w) => w.includes(`${ANNOTATION_APPLIED} left out`))) count('annotation-left-out');
        expect(d.warnings.length).toBeLessThanOrEqual(MAX_WARNINGS);
        for (const w of d.warnings) expect(w.length).toBeLessThanOrEqual(120);
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
          expect(referenceLimits(d.after, annotationsOf(result))).toEqual([]);
        }
        expectAuthorKept(d, raw, effective(cfg, facts), ns.name);
        expectServed(d, raw, cfg, facts);
        expect(d.summary.length).toBeLessThanOrEqual(512);
        // Every option the webhook wrote itself is one glibc accepts, with a value in range.
        const authors = new Set((dnsOf(raw).view.dnsConfig?.options ?? []).map((o) => o.name));
        for (const o of d.after.dnsConfig?.options ?? [])
          if (!authors.has(o.name)) expect(validateOption(o).ok).toBe(true);
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
      'windows',
      'kubelet-cut',
      'options-only',
      'annotation-left-out',
    ]) {
      expect(seen[kind] ?? 0, `${kind} in ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(5);
    }
  });

  it('a second pass over the mutated pod yields an empty patch', () => {
    fc.assert(
      fc.property(scenario, ({ cfg, ns, raw, objects }) => {
        const clusterFacts = factsFor(objects, ns.name);
        const first = run(cfg, raw, ns, { namespace: ns.name, clusterFacts });
        if (first.action !== 'mutate') return;
        const result = jsonpatch.applyPatch(
          structuredClone(raw),
          first.patch as jsonpatch.Operation[],
          true,
          false,
        ).newDocument;
        const second = run(cfg, result, ns, { namespace: ns.name, clusterFacts });
        expect(second.action === 'skip' || second.action === 'unchanged').toBe(true);
        if (second.action !== 'skip') expect(second.patch).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });

  it('with cluster facts random, a node-local pod is never pointed where its DNS cannot go, and stays idempotent', () => {
    // Every namespace opted in to a node-local policy in enforce mode: each review reaches the cluster's rules.
    const nodeLocalScenario = config
      .map((cfg) => ({
        ...cfg,
        mode: 'enforce' as const,
        policies: Object.fromEntries(
          Object.entries(cfg.policies).map(([name, p]) => [name, { ...p, nodeLocal: true, fallback: true }]),
        ),
      }))
      .chain((cfg) =>
        fc.record({
          cfg: fc.constant(cfg),
          raw: rawPod,
          policy: fc.constantFrom(...Object.keys(cfg.policies)),
          objects: clusterObjects(cfg, 'shop').filter((o) => o !== undefined),
        }),
      );
    const seen: Record<string, number> = {};
    fc.assert(
      fc.property(nodeLocalScenario, ({ cfg, raw, policy, objects }) => {
        const ns: NamespaceInfo = { name: 'shop', labels: { 'dns-tuner.io/policy': policy }, annotations: {} };
        const clusterFacts = factsFor(objects, 'shop');
        const d = run(cfg, raw, ns, { namespace: 'shop', clusterFacts });
        if (d.action === 'skip') return;
        const kind =
          d.action === 'mutate' && d.reason !== 'policy-applied' ? d.reason : `${d.action}:${d.after.dnsPolicy}`;
        seen[kind] = (seen[kind] ?? 0) + 1;
        const result = jsonpatch.applyPatch(
          structuredClone(raw),
          d.patch as jsonpatch.Operation[],
          true,
          false,
        ).newDocument;
        expect(untouchable(result)).toEqual(untouchable(raw));
        if (validatePodDns(dnsOf(raw).dns).length === 0) expect(validatePodDns(d.after)).toEqual([]);
        expectAuthorKept(d, raw, effective(cfg, clusterFacts), 'shop');
        expectServed(d, raw, cfg, clusterFacts);
        if (d.action !== 'mutate') return;
        const second = run(cfg, result, ns, { namespace: 'shop', clusterFacts });
        expect(second.action === 'skip' || second.action === 'unchanged').toBe(true);
      }),
      { numRuns: 1500 },
    );
    for (const kind of ['mutate:None', ...CLUSTER_REASONS]) {
      expect(seen[kind] ?? 0, `${kind} in ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(5);
    }
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

describe('pods past the apiserver limits, and size', () => {
  const cfg = configFrom({ clusterDNS: '10.96.0.10', nodeLocalDNS: '169.254.20.10' });
  const shop: NamespaceInfo = { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' }, annotations: {} };
  const podWith = (dnsConfig: Record<string, unknown>, annotations?: Record<string, string>) => ({
    metadata: { generateName: 'web-', ...(annotations ? { annotations } : {}) },
    spec: { dnsPolicy: 'ClusterFirst', dnsConfig },
  });

  /** One field past its limit, by a little or by a lot; the rest of the pod random but valid. */
  const overLimit = fc.oneof(
    fc
      .integer({ min: 4, max: 200_000 })
      .map((n) => ({ nameservers: Array.from({ length: n }, (_, i) => `10.0.${(i >> 8) & 255}.${i & 255}`) })),
    fc
      .integer({ min: 33, max: 200_000 })
      .map((n) => ({ searches: Array.from({ length: n }, (_, i) => `d${i}.example`) })),
    fc.integer({ min: 254, max: 5000 }).map((n) => ({ searches: [`${'a'.repeat(n - 4)}.com`] })),
    fc
      .integer({ min: 9, max: 31 })
      .map((n) => ({ searches: Array.from({ length: n }, (_, i) => `${'b'.repeat(240)}${i}.io`) })),
    fc.constantFrom({ nameservers: ['not-an-ip'] }, { options: [{ name: '' }] }),
  );

  it('a pod past any limit is left alone as invalid-pod, with one warning, however large', () => {
    fc.assert(
      fc.property(overLimit, (dnsConfig) => {
        const d = run(cfg, podWith(dnsConfig), shop);
        expect(d).toMatchObject({ action: 'skip', reason: 'invalid-pod' });
        expect(d.warnings).toHaveLength(1);
        expect(d.warnings[0]).toMatch(
          /^dns-tuner: pod not tuned, the apiserver will reject the pod as received: spec\.dnsConfig\./,
        );
      }),
      { numRuns: 40 },
    );
  });

  it('annotations past 256 KiB are left alone too; at the limit our annotation is left out, never pushing it over', () => {
    const key = 'example.com/blob';
    const sized = (bytes: number) => ({ [key]: 'x'.repeat(bytes - key.length) });
    expect(run(cfg, podWith({}, sized(262_145)), shop)).toMatchObject({ reason: 'invalid-pod' });
    const d = run(cfg, podWith({}, sized(262_144)), shop);
    expect(d.action).toBe('mutate');
    expect(d.action !== 'skip' && d.patch.some((op) => op.path.includes('annotations'))).toBe(false);
    expect(d.warnings).toContain(
      `dns-tuner: ${ANNOTATION_APPLIED} left out: the annotations would exceed the apiserver's 256 KiB`,
    );
  });

  /** Shapes with no count limit (options, namespace annotations), and pods past the limits (counted, then skipped). */
  const shapes: Record<string, (n: number) => { raw: Record<string, unknown>; ns: NamespaceInfo }> = {
    'author options': (n) => ({
      raw: podWith({ options: Array.from({ length: n }, (_, i) => ({ name: `x-${i}` })) }),
      ns: shop,
    }),
    'bad option tokens in the namespace annotation': (n) => ({
      raw: podWith({}),
      ns: { ...shop, annotations: { 'dns-tuner.io/options': Array.from({ length: n }, (_, i) => `z${i}`).join(',') } },
    }),
    'nameservers past the limit': (n) => ({
      raw: podWith({ nameservers: Array.from({ length: n }, () => '10.0.0.1') }),
      ns: shop,
    }),
    'searches past the limit': (n) => ({
      raw: podWith({ searches: Array.from({ length: n }, (_, i) => `s${i}.example`) }),
      ns: shop,
    }),
  };

  /**
   * Linear, not quadratic: twenty times the entries may cost about twenty times as much, never 400. A ratio on the same
   * machine in the same run, with the best of several runs, so load on the shared cores does not decide it; the
   * absolute numbers are in docs/benchmarks.md (npm run bench:review-size).
   */
  it.each(Object.keys(shapes))('%s: 20× the entries cost far less than 400× the time', (shape) => {
    const best = (n: number) => {
      const { raw, ns } = shapes[shape]!(n);
      let fastest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        run(cfg, raw, ns);
        fastest = Math.min(fastest, performance.now() - t0);
      }
      return fastest;
    };
    best(1000); // warm-up
    const small = best(5_000);
    const large = best(100_000);
    // Twenty times the entries: quadratic work makes the ratio ~400, linear ~20 (more with GC and a busy machine).
    // A floor of 1 ms keeps a near-zero `small` from inflating it.
    expect(large / Math.max(small, 1)).toBeLessThan(100);
  });
});
