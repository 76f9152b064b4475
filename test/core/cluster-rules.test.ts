/**
 * The cluster's rules in the engine (issue 10): never point a pod where its DNS cannot go. Facts are built from API
 * objects (lab/cluster-dns.ts) through the adapters' projections (test/support/cluster.ts).
 */
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
import { clusterView, DEFAULT_CLUSTER_DOMAIN, podDnsEgress } from '../../src/core/cluster-rules.ts';
import { type Config, DEFAULT_DISCOVERY, type Decision } from '../../src/core/types.ts';
import { type ClusterObjects, factsOf } from '../support/cluster.ts';
import { configFrom, exampleConfig, namespace, patched, pod, run } from '../support/engine.ts';

const config = exampleConfig();
const shop = namespace('shop', 'default');

/** A cluster as kubeadm + upstream nodelocaldns in IPVS mode make it, no NetworkPolicy. */
function healthy(extra: Partial<ClusterObjects> = {}): ClusterObjects {
  return {
    services: [kubeDnsService()],
    configMaps: [coreDnsConfigMap()],
    daemonSets: [nodeLocalDaemonSet()],
    networkPolicies: [],
    ...extra,
  };
}

function decideIn(objects: ClusterObjects, cfg: Config = config, ns = shop, raw = pod()): Decision {
  return run(cfg, raw, ns, { namespace: ns.name, clusterFacts: factsOf(objects, ns.name) });
}

function tuned(d: Decision) {
  if (d.action === 'skip') throw new Error(`expected a tuned pod, got skip: ${d.message}`);
  return d;
}

const optionsOnly = (d: Decision) => {
  const t = tuned(d);
  expect(t.after.dnsPolicy).toBe('ClusterFirst');
  expect(t.after.dnsConfig?.nameservers).toBeUndefined();
  return t;
};

describe('a healthy link-local (IPVS) cluster', () => {
  it('rewrites as before: the cache, then the verified kube-dns IP, reason policy-applied', () => {
    const d = tuned(decideIn(healthy()));
    expect(d).toMatchObject({ action: 'mutate', reason: 'policy-applied' });
    expect(d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
    expect(d.nodeLocalDeclined).toBeUndefined();
  });

  it('without cluster facts at all, the config is trusted (as before issue 10)', () => {
    const d = tuned(run(config, pod(), shop));
    expect(d.reason).toBe('policy-applied');
    expect(d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
  });
});

describe('node-local mode', () => {
  it('transparent (iptables mode: -localip also lists the kube-dns IP): options only, no warning', () => {
    const d = optionsOnly(decideIn(healthy({ daemonSets: [nodeLocalDaemonSet({ transparent: true })] })));
    expect(d.reason).toBe('node-local-transparent');
    expect(d.after.dnsConfig?.options?.[0]).toEqual({ name: 'ndots', value: '3' });
    expect(d.warnings.filter((w) => w.includes('options only'))).toEqual([]);
  });

  it('no cache serving nodeLocalDNS (none at all, or one on another IP): options only, node-local-unavailable', () => {
    for (const daemonSets of [[], [nodeLocalDaemonSet({ localIp: '169.254.25.10' })]]) {
      const d = optionsOnly(decideIn(healthy({ daemonSets })));
      expect(d.reason).toBe('node-local-unavailable');
      expect(d.warnings).toContain('dns-tuner: options only: no NodeLocal DNSCache serves 169.254.20.10');
    }
  });

  it('a cache with no available pod: node-local-unavailable; one available pod during a rollout is enough', () => {
    const down = optionsOnly(decideIn(healthy({ daemonSets: [nodeLocalDaemonSet({ available: 0 })] })));
    expect(down.reason).toBe('node-local-unavailable');
    expect(down.warnings).toContain(
      'dns-tuner: options only: NodeLocal DNSCache kube-system/node-local-dns has no available pod (0/3)',
    );
    const rolling = tuned(decideIn(healthy({ daemonSets: [nodeLocalDaemonSet({ available: 1 })] })));
    expect(rolling.after.dnsPolicy).toBe('None');
  });

  it('DaemonSets not readable (no RBAC, not in the file): the config is trusted and the pod rewritten', () => {
    const d = tuned(decideIn(healthy({ daemonSets: undefined })));
    expect(d).toMatchObject({ reason: 'policy-applied', after: { dnsPolicy: 'None' } });
  });

  it('an explicit mode overrides detection: link-local always rewrites, transparent and off give options only', () => {
    const absent = healthy({ daemonSets: [] });
    const mode = (nodeLocalMode: string) => configFrom({ ...rawExample(), nodeLocalMode });
    expect(tuned(decideIn(absent, mode('link-local'))).after.dnsPolicy).toBe('None');
    expect(optionsOnly(decideIn(healthy(), mode('transparent'))).reason).toBe('node-local-transparent');
    const off = optionsOnly(decideIn(healthy(), mode('off')));
    // Off is the operator's choice, not something the cluster says: the policy was applied as configured.
    expect(off.reason).toBe('policy-applied');
    expect(off.nodeLocalDeclined?.reason).toBe('node-local-off');
    expect(off.warnings.filter((w) => w.includes('options only'))).toEqual([]);
  });

  it('a policy without node-local is not touched by any of it', () => {
    const payments = namespace('payments', 'options-only');
    const d = tuned(decideIn(healthy({ daemonSets: [] }), config, payments));
    expect(d.reason).toBe('policy-applied');
    expect(d.nodeLocalDeclined).toBeUndefined();
  });

  it('dry-run mode keeps its own reason; the decline is still reported', () => {
    const staging = namespace('staging', 'default', { 'dns-tuner.io/mode': 'dry-run' });
    const d = tuned(decideIn(healthy({ daemonSets: [] }), config, staging));
    expect(d).toMatchObject({ action: 'dry-run', reason: 'mode-dry-run' });
    expect(d.nodeLocalDeclined?.reason).toBe('node-local-unavailable');
  });
});

function rawExample(): Record<string, unknown> {
  return {
    clusterDomain: 'cluster.local',
    clusterDNS: '10.96.0.10',
    nodeLocalDNS: '169.254.20.10',
    policies: { default: { ndots: 3, options: ['timeout:1'], nodeLocal: true, fallback: true } },
  };
}

describe('clusterDNS and clusterDomain: discovered when unset, verified when set', () => {
  const unset = configFrom({ nodeLocalDNS: '169.254.20.10', policies: { default: { ndots: 3, nodeLocal: true } } });

  it('an empty clusterDNS is discovered from the kube-dns Service, the domain from the Corefile', () => {
    const objects = healthy({ configMaps: [coreDnsConfigMap('k8s.example.org')] });
    const d = tuned(decideIn(objects, unset));
    expect(d.after.dnsConfig).toMatchObject({
      nameservers: ['169.254.20.10', '10.96.0.10'],
      searches: ['shop.svc.k8s.example.org', 'svc.k8s.example.org', 'k8s.example.org'],
    });
    const view = clusterView(unset, factsOf(objects));
    expect(view.clusterDNS).toEqual({ value: '10.96.0.10', from: 'Service kube-system/kube-dns' });
    expect(view.clusterDomain.from).toBe('the kubernetes plugin in ConfigMap kube-system/coredns (Corefile)');
  });

  it('dual-stack: the first clusterIP is written; a configured second one is verified', () => {
    const dual = healthy({ services: [kubeDnsService(['10.96.0.10', 'fd00:10::a'])] });
    expect(tuned(decideIn(dual, unset)).after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
    const v6 = configFrom({ ...rawExample(), clusterDNS: 'fd00:10:0::a' });
    const view = clusterView(v6, factsOf(dual));
    expect(view.clusterDNS.value).toBe('fd00:10::a');
    expect(view.clusterDNS.mismatch).toBeUndefined();
  });

  it('a wrong clusterDNS never reaches a pod: options only, cluster-dns-mismatch, a warning', () => {
    const wrong = configFrom({ ...rawExample(), clusterDNS: '10.0.0.10' });
    const d = optionsOnly(decideIn(healthy(), wrong));
    expect(d.reason).toBe('cluster-dns-mismatch');
    expect(JSON.stringify(d.patch)).not.toContain('10.0.0.10');
    expect(d.warnings).toContain(
      'dns-tuner: options only: config clusterDNS is not the kube-dns Service IP (10.96.0.10)',
    );
    expect(d.nodeLocalDeclined?.message).toBe(
      'config clusterDNS 10.0.0.10 is not an IP of Service kube-system/kube-dns (10.96.0.10)',
    );
    // Without the fallback the wrong IP would not be written: the pod goes to the cache alone.
    const noFallback = namespace('shop', 'default', { 'dns-tuner.io/fallback': 'false' });
    expect(tuned(decideIn(healthy(), wrong, noFallback)).after.dnsConfig?.nameservers).toEqual(['169.254.20.10']);
  });

  it('a wrong clusterDomain: options only for every node-local pod (searches would name a domain CoreDNS does not serve)', () => {
    const wrong = configFrom({ ...rawExample(), clusterDomain: 'corp.example' });
    const d = optionsOnly(decideIn(healthy(), wrong));
    expect(d.reason).toBe('cluster-dns-mismatch');
    expect(JSON.stringify(d.patch)).not.toContain('corp.example');
  });

  it('a domain is served when it is any zone of the kubernetes plugin, case and final dot aside', () => {
    const corefile = coreDnsConfigMap('cluster.local K8S.example.org');
    const cfg = configFrom({ ...rawExample(), clusterDomain: 'k8s.example.org.' });
    expect(clusterView(cfg, factsOf(healthy({ configMaps: [corefile] }))).clusterDomain.mismatch).toBeUndefined();
  });

  it('what cannot be verified is trusted and says why: no Service, no Corefile (GKE kube-dns), not readable', () => {
    const gke: ObjectInput = { metadata: { name: 'coredns', namespace: 'kube-system' }, data: {} };
    const view = clusterView(config, factsOf(healthy({ services: [], configMaps: [gke] })));
    expect(view.clusterDNS).toEqual({
      value: '10.96.0.10',
      from: 'config (not verified: no Service kube-system/kube-dns)',
    });
    expect(view.clusterDomain.from).toBe(
      'config (not verified: ConfigMap kube-system/coredns has no Corefile naming a kubernetes zone)',
    );
    const none = clusterView(unset, factsOf({}));
    expect(none.clusterDNS).toEqual({
      value: undefined,
      from: 'not configured, and not discovered: no services in the test',
    });
    expect(none.clusterDomain).toMatchObject({ value: DEFAULT_CLUSTER_DOMAIN });
    // Nothing to fall back on: the node-local form needs kube-dns, so the pod gets options only (ADR 2).
    expect(optionsOnly(decideIn({}, unset)).nodeLocalDeclined?.reason).toBe('no-cluster-dns');
  });

  it('kubespray names its Service coredns: found through discovery.kubeDnsService', () => {
    const cfg = configFrom({
      ...rawExample(),
      clusterDNS: undefined,
      discovery: { kubeDnsService: 'kube-system/coredns' },
    });
    const objects = healthy({ services: [kubeDnsService(['10.233.0.3'], 'coredns')] });
    const facts = factsOf(objects, 'shop', cfg.discovery);
    expect(clusterView(cfg, facts).clusterDNS.value).toBe('10.233.0.3');
    expect(cfg.discovery).toEqual({
      ...DEFAULT_DISCOVERY,
      kubeDnsService: { namespace: 'kube-system', name: 'coredns' },
    });
  });
});

describe('NetworkPolicies', () => {
  it('"DNS only to kube-dns" never gets its pods pointed at the cache, and the fix policy is offered', () => {
    const objects = healthy({ networkPolicies: [denyAllEgress('shop'), dnsToKubeDnsOnly('shop')] });
    const d = optionsOnly(decideIn(objects));
    expect(d.reason).toBe('node-local-blocked-by-networkpolicy');
    expect(d.warnings).toContain(
      'dns-tuner: options only: NetworkPolicy shop/default-deny-egress (+1) blocks DNS to node-local 169.254.20.10',
    );
    const egress = podDnsEgress(clusterView(config, factsOf(objects)), factsOf(objects), {
      namespace: 'shop',
      namespaceAnnotations: {},
      labels: { app: 'web' },
    });
    expect(egress.cache?.verdict).toMatchObject({ verdict: 'blocked', selectedCount: 2 });
    expect(egress.cache?.verdict.udp.podPeersOnly).toEqual([
      { namespace: 'shop', name: 'allow-dns-to-kube-dns', rule: 0 },
    ]);
    expect(egress.fix).toContain('cidr: 169.254.20.10/32');
    expect(egress.fix).toContain('podSelector: {}');
  });

  it('the fix policy lets the pod reach the cache: applied, the pod is rewritten', () => {
    const objects = healthy({ networkPolicies: [denyAllEgress('shop'), dnsToNodeLocal('shop')] });
    expect(tuned(decideIn(objects))).toMatchObject({ reason: 'policy-applied', after: { dnsPolicy: 'None' } });
  });

  it('UDP allowed but not TCP: rewritten, with a warning (large answers fail over TCP)', () => {
    const objects = healthy({ networkPolicies: [denyAllEgress('shop'), dnsToNodeLocal('shop', { udpOnly: true })] });
    const d = tuned(decideIn(objects));
    expect(d.after.dnsPolicy).toBe('None');
    expect(d.warnings).toContain(
      'dns-tuner: NetworkPolicy shop/default-deny-egress (+1) blocks TCP 53 to node-local 169.254.20.10: large answers fail',
    );
  });

  it('policies of another namespace, or that select other pods (matchExpressions), do not isolate the pod', () => {
    const other = denyAllEgress('payments');
    const notWeb: ObjectInput = {
      metadata: { name: 'batch-only', namespace: 'shop' },
      spec: {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] },
        policyTypes: ['Egress'],
      },
    };
    const d = tuned(decideIn(healthy({ networkPolicies: [other, notWeb] })));
    expect(d.after.dnsPolicy).toBe('None');
    const batch = pod({}, { labels: { app: 'batch' } });
    expect(optionsOnly(decideIn(healthy({ networkPolicies: [notWeb] }), config, shop, batch)).reason).toBe(
      'node-local-blocked-by-networkpolicy',
    );
  });

  it('the fix selects only pods already isolated: the isolating policy podSelector, not {}', () => {
    const webOnly: ObjectInput = {
      metadata: { name: 'web-egress', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'] },
    };
    const objects = healthy({ networkPolicies: [webOnly] });
    const egress = podDnsEgress(clusterView(config, factsOf(objects)), factsOf(objects), {
      namespace: 'shop',
      namespaceAnnotations: {},
      labels: { app: 'web' },
    });
    expect(egress.fix).toContain('matchLabels:\n      app: web');
  });

  it('the namespace annotation node-local-reachable: "true" asserts reachability (CNI policies); other values warn', () => {
    const objects = healthy({ networkPolicies: [denyAllEgress('shop')] });
    const asserted = namespace('shop', 'default', { 'dns-tuner.io/node-local-reachable': 'true' });
    expect(tuned(decideIn(objects, config, asserted)).after.dnsPolicy).toBe('None');
    const typo = namespace('shop', 'default', { 'dns-tuner.io/node-local-reachable': 'yes' });
    const d = optionsOnly(decideIn(objects, config, typo));
    expect(d.warnings).toContain(
      'dns-tuner: ignored namespace annotation dns-tuner.io/node-local-reachable="yes": must be "true" or "false"',
    );
    expect(d.invalidAnnotations).toContainEqual({
      annotation: 'dns-tuner.io/node-local-reachable',
      source: 'namespace-annotation',
      value: 'yes',
      problem: 'invalid',
    });
    // Only a namespace may assert it.
    const onPod = pod({}, { annotations: { 'dns-tuner.io/node-local-reachable': 'true' } });
    expect(optionsOnly(decideIn(objects, config, shop, onPod)).reason).toBe('node-local-blocked-by-networkpolicy');
  });

  it('NetworkPolicies not readable: not checked, the pod is rewritten (the config is trusted)', () => {
    const d = tuned(decideIn(healthy({ networkPolicies: undefined })));
    expect(d.after.dnsPolicy).toBe('None');
  });

  it('the reasons come in order: node-local mode, then the config against the cluster, then NetworkPolicies', () => {
    const blocked = [denyAllEgress('shop')];
    const wrong = configFrom({ ...rawExample(), clusterDNS: '10.0.0.10' });
    expect(tuned(decideIn(healthy({ daemonSets: [], networkPolicies: blocked }), wrong)).reason).toBe(
      'node-local-unavailable',
    );
    expect(tuned(decideIn(healthy({ networkPolicies: blocked }), wrong)).reason).toBe('cluster-dns-mismatch');
  });
});

describe('idempotence with cluster facts', () => {
  it('an options-only pod is unchanged on reinvocation; a rewritten one is already-applied', () => {
    const blocked = healthy({ networkPolicies: [denyAllEgress('shop')] });
    const first = decideIn(blocked);
    const again = decideIn(blocked, config, shop, patched(pod(), first));
    expect(again).toMatchObject({ action: 'unchanged', reason: 'already-tuned', patch: [] });
    const rewritten = decideIn(healthy());
    expect(decideIn(healthy(), config, shop, patched(pod(), rewritten))).toMatchObject({ reason: 'already-applied' });
  });
});
