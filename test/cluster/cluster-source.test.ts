/**
 * The cluster facts from the API server (src/cluster/cluster-source.ts) against the fake API (lab/fake-kube-api.ts,
 * the real list/watch wire protocol): what each resource's cache keeps, how the facts follow watch events, a 410 and a
 * 403, readiness, and the metrics an operator reads.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  coreDnsConfigMap,
  denyAllEgress,
  dnsToKubeDnsOnly,
  KUBE_SYSTEM,
  kubeDnsService,
  nodeLocalDaemonSet,
  seedClusterDns,
} from '../../lab/cluster-dns.ts';
import { eventually } from '../../lab/eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import {
  type ClusterFactsCacheSource,
  type ClusterFactsObserver,
  createClusterFactsSource,
} from '../../src/cluster/cluster-source.ts';
import { createApiClient } from '../../src/kube/api-client.ts';
import { connectionOf, loadKubeConfig } from '../../src/kube/kubeconfig.ts';
import { createClusterMetrics } from '../../src/metrics/cluster-metrics.ts';
import { configFrom } from '../support/engine.ts';

const config = configFrom({ clusterDNS: '10.96.0.10', nodeLocalDNS: '169.254.20.10' });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function recorder() {
  const log = { synced: [] as string[], restarts: [] as string[], forbidden: [] as string[], errors: [] as string[] };
  const observer: ClusterFactsObserver = {
    onSynced: (resource, info) => log.synced.push(`${resource} ${info.reason} ${info.size}`),
    onWatchRestart: (resource, reason) => log.restarts.push(`${resource} ${reason}`),
    onForbidden: (resource, forbidden) => log.forbidden.push(`${resource} ${forbidden}`),
    onError: (resource, error, phase) => log.errors.push(`${resource} ${phase}: ${error.message}`),
  };
  return { log, observer };
}

async function setup(seed: (fake: FakeKubeApi) => void = (fake) => seedClusterDns(fake), start = true) {
  const fake = await startFakeKubeApi();
  cleanups.push(() => fake.close());
  fake.create('shop');
  fake.create('payments');
  seed(fake);
  const { log, observer } = recorder();
  const registry = new Registry();
  const metrics = createClusterMetrics(registry);
  const source: ClusterFactsCacheSource = createClusterFactsSource({
    client: createApiClient(connectionOf(loadKubeConfig({ kubeconfig: fake.kubeconfigPath, env: {} }))),
    discovery: config.discovery,
    observer: {
      ...observer,
      onWatchRestart: (r, reason, detail) => {
        observer.onWatchRestart?.(r, reason, detail);
        metrics.observer.onWatchRestart?.(r, reason, detail);
      },
    },
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    relistIntervalMs: 0,
    watchTimeoutSeconds: 60,
  });
  metrics.track({ config: () => config, facts: source }, source);
  cleanups.push(() => source.stop());
  if (start) await source.start();
  return { fake, source, log, registry };
}

async function gauge(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  if (value === undefined) throw new Error(`no ${name} ${JSON.stringify(labels)}`);
  return value.value;
}

describe('cluster facts from the API server', () => {
  it('lists the four resources and keeps only what decisions need', async () => {
    const { fake, source, log } = await setup((fake) => {
      seedClusterDns(fake);
      // Neither of these is kept: another Service and ConfigMap of kube-system (the field selector leaves them out)
      // and a DaemonSet that runs no node-cache.
      fake.createObject('services', {
        ...kubeDnsService(['10.96.0.99']),
        metadata: { name: 'metrics', namespace: KUBE_SYSTEM },
      });
      fake.createObject('configmaps', {
        metadata: { name: 'kube-proxy', namespace: KUBE_SYSTEM },
        data: { big: 'x'.repeat(10_000) },
      });
      fake.createObject('daemonsets', {
        ...nodeLocalDaemonSet(),
        metadata: { name: 'kube-proxy', namespace: KUBE_SYSTEM },
        spec: { template: { spec: { containers: [{ name: 'kube-proxy', command: ['/usr/local/bin/kube-proxy'] }] } } },
      });
      fake.createObject('networkpolicies', denyAllEgress('shop'));
      fake.createObject('networkpolicies', dnsToKubeDnsOnly('payments'));
    });
    expect(source.status()).toEqual({ ready: true });
    expect(log.synced.sort()).toEqual([
      'configmaps initial 1',
      'daemonsets initial 1',
      'networkpolicies initial 2',
      'services initial 1',
    ]);
    expect(source.size('daemonsets')).toBe(1);
    const facts = source.facts('shop');
    expect(facts).toMatchObject({
      origin: 'the cluster',
      kubeDns: { service: 'kube-system/kube-dns', found: true, ips: ['10.96.0.10'] },
      coreDns: { configMap: 'kube-system/coredns', found: true, zones: ['cluster.local'] },
      unknown: {},
    });
    expect(facts.nodeLocalDaemonSets).toEqual([
      {
        namespace: KUBE_SYSTEM,
        name: 'node-local-dns',
        containers: [{ name: 'node-cache', command: [], args: ['-localip', '169.254.20.10'] }],
        desiredNumberScheduled: 3,
        numberAvailable: 3,
      },
    ]);
    // Each review reads its own namespace's NetworkPolicies only.
    expect(facts.networkPolicies?.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/default-deny-egress']);
    expect(source.facts('payments').networkPolicies?.map((p) => p.name)).toEqual(['allow-dns-to-kube-dns']);
    expect(source.facts('elsewhere').networkPolicies).toEqual([]);
    // Field selectors: the other Service and ConfigMap were never sent.
    const lists = fake.requests
      .filter((r) => r.kind === 'list')
      .map((r) => `${r.resource} ${r.query.fieldSelector ?? ''}`);
    expect(lists).toEqual(
      expect.arrayContaining(['services metadata.name=kube-dns', 'configmaps metadata.name=coredns', 'daemonsets ']),
    );
  });

  it('follows the watch: policies, the DaemonSet status and the kube-dns IP change the facts, and listeners hear it', async () => {
    const { fake, source } = await setup();
    let changes = 0;
    source.onChange(() => {
      changes++;
    });
    fake.createObject('networkpolicies', denyAllEgress('shop'));
    await eventually(async () => expect(source.facts('shop').networkPolicies).toHaveLength(1));
    fake.deleteObject('networkpolicies', 'default-deny-egress', 'shop');
    await eventually(async () => expect(source.facts('shop').networkPolicies).toEqual([]));
    fake.updateObject('daemonsets', nodeLocalDaemonSet({ available: 0 }));
    await eventually(async () => expect(source.facts('shop').nodeLocalDaemonSets?.[0]?.numberAvailable).toBe(0));
    fake.updateObject('services', kubeDnsService(['10.96.0.11']));
    await eventually(async () => expect(source.facts('shop').kubeDns?.ips).toEqual(['10.96.0.11']));
    fake.deleteObject('configmaps', 'coredns', KUBE_SYSTEM);
    await eventually(async () => expect(source.facts('shop').coreDns).toMatchObject({ found: false, zones: [] }));
    expect(changes).toBeGreaterThanOrEqual(5);
  });

  it('relists after 410 Gone, and keeps its facts meanwhile', async () => {
    const { fake, source, log, registry } = await setup();
    await eventually(async () => expect(fake.openWatches).toBe(4));
    // Changes the watch sees, then a compaction: the next watch gets 410 and every cache relists.
    fake.updateObject('configmaps', coreDnsConfigMap('k8s.example.org'));
    fake.expireWatches();
    await eventually(async () => expect(log.synced.filter((s) => s.includes('expired'))).toHaveLength(4));
    expect(source.facts('shop').coreDns?.zones).toEqual(['k8s.example.org']);
    expect(
      await gauge(registry, 'dns_tuner_cluster_facts_watch_restarts_total', {
        resource: 'services',
        reason: 'expired',
      }),
    ).toBe(1);
    expect(
      await gauge(registry, 'dns_tuner_cluster_facts_last_event_age_seconds', { resource: 'networkpolicies' }),
    ).toBeLessThan(60);
  });

  it('a resource the API refuses (403) is not checked: ready, the config trusted, said by the observer and a gauge', async () => {
    const { fake, source, log, registry } = await setup((fake) => {
      seedClusterDns(fake);
      fake.deny({ resource: 'daemonsets' });
      fake.deny({ resource: 'networkpolicies' });
    });
    expect(source.status()).toEqual({ ready: true });
    expect(log.forbidden.sort()).toEqual(['daemonsets true', 'networkpolicies true']);
    const facts = source.facts('shop');
    expect(facts.nodeLocalDaemonSets).toBeUndefined();
    expect(facts.networkPolicies).toBeUndefined();
    expect(facts.unknown.nodeLocalDaemonSets).toMatch(/^the API refuses it \(list daemonsets: .*403/);
    expect(facts.kubeDns?.ips).toEqual(['10.96.0.10']);
    expect(await gauge(registry, 'dns_tuner_cluster_facts_forbidden', { resource: 'daemonsets' })).toBe(1);
    expect(await gauge(registry, 'dns_tuner_cluster_facts_forbidden', { resource: 'services' })).toBe(0);
    // No age for a refused resource: an install without that RBAC is not "stale".
    await expect(
      gauge(registry, 'dns_tuner_cluster_facts_last_event_age_seconds', { resource: 'daemonsets' }),
    ).rejects.toThrow();
    // The caches keep trying: once the RBAC is there, the facts are.
    fake.allowAll();
    await eventually(async () => expect(source.facts('shop').nodeLocalDaemonSets).toHaveLength(1), 5000);
    expect(log.forbidden).toContain('daemonsets false');
    expect(await gauge(registry, 'dns_tuner_cluster_facts_forbidden', { resource: 'daemonsets' })).toBe(0);
  });

  it('is not ready, and knows nothing, until every resource has listed; start() waits for all', async () => {
    const { fake, source } = await setup(undefined, false);
    fake.setFault('list', { delayMs: 1500 }, 'networkpolicies');
    const started = source.start();
    // A test that fails before `await started` must not leave its rejection (at stop) unhandled.
    started.catch(() => {});
    await eventually(async () =>
      expect(source.status()).toEqual({ ready: false, reason: 'NetworkPolicy cache has not synced yet' }),
    );
    expect(source.facts('shop').kubeDns).toBeDefined();
    expect(source.facts('shop').networkPolicies).toBeUndefined();
    expect(source.facts('shop').unknown).toEqual({ networkPolicies: 'networkpolicies not listed yet' });
    await started;
    expect(source.status()).toEqual({ ready: true });
  });

  it('reads the info, availability and mismatch gauges through the engine rules', async () => {
    const { fake, registry } = await setup();
    const info = async () => (await registry.getSingleMetric('dns_tuner_cluster_info')?.get())?.values[0]?.labels;
    expect(await info()).toEqual({
      kube_dns_ip: '10.96.0.10',
      cluster_domain: 'cluster.local',
      node_local_mode: 'link-local',
    });
    expect(await gauge(registry, 'dns_tuner_node_local_available')).toBe(1);
    expect(await gauge(registry, 'dns_tuner_cluster_mismatch', { field: 'clusterDNS' })).toBe(0);
    fake.updateObject('daemonsets', nodeLocalDaemonSet({ transparent: true, available: 0 }));
    await eventually(async () => expect((await info())?.node_local_mode).toBe('transparent'));
    // The Service moves: the config's clusterDNS is now wrong, and the cache no longer listens on the kube-dns IP.
    fake.updateObject('services', kubeDnsService(['10.96.0.11']));
    await eventually(async () =>
      expect(await gauge(registry, 'dns_tuner_cluster_mismatch', { field: 'clusterDNS' })).toBe(1),
    );
    expect(await info()).toEqual({
      kube_dns_ip: '10.96.0.11',
      cluster_domain: 'cluster.local',
      node_local_mode: 'link-local',
    });
    expect(await gauge(registry, 'dns_tuner_node_local_available')).toBe(0);
    expect(await gauge(registry, 'dns_tuner_cluster_mismatch', { field: 'clusterDomain' })).toBe(0);
  });

  it('a NetworkPolicy this reader cannot read stands in as denying all egress of its namespace, and is reported', async () => {
    const { fake, source, log } = await setup();
    const odd = { metadata: { name: 'odd', namespace: 'shop' }, spec: { egress: [{ ports: [{ protocol: 'ICMP' }] }] } };
    fake.createObject('networkpolicies', odd);
    await eventually(async () => expect(source.facts('shop').networkPolicies).toHaveLength(1));
    expect(source.facts('shop').networkPolicies).toEqual([
      {
        namespace: 'shop',
        name: 'odd',
        podSelector: { matchLabels: {}, matchExpressions: [] },
        policyTypes: ['Egress'],
        egress: [],
      },
    ]);
    expect(log.errors).toEqual([
      expect.stringMatching(/^networkpolicies object: NetworkPolicy shop\/odd: spec\.egress\.0\.ports\.0\.protocol/),
    ]);
    // The cache itself is fine: other objects keep flowing.
    expect(source.status()).toEqual({ ready: true });
  });

  it('stop() ends every watch', async () => {
    const { fake, source } = await setup();
    await eventually(async () => expect(fake.openWatches).toBe(4));
    await source.stop();
    await eventually(async () => expect(fake.openWatches).toBe(0));
  });
});
