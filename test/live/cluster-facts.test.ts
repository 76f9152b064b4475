/**
 * Cluster facts wired into dns-tuner, live against the fake API server: what happens in the cluster shows in the next
 * review within seconds — a default-deny-egress policy makes the next pod options-only and deleting it restores the
 * rewrite; the node-local DaemonSet losing its available pods, turning transparent, and the kube-dns Service IP
 * changing, too — with the metrics and log lines an operator reads. Also: an empty clusterDNS is discovered, and a
 * resource the API refuses leaves the config trusted without a crash loop.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { metricValue, readyz, scrape } from '../../lab/client.ts';
import {
  denyAllEgress,
  dnsToKubeDnsOnly,
  dnsToNodeLocal,
  KUBE_SYSTEM,
  kubeDnsService,
  nodeLocalDaemonSet,
  seedClusterDns,
} from '../../lab/cluster-dns.ts';
import { eventually } from '../../lab/eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { EXAMPLE_CONFIG } from '../../lab/paths.ts';
import { responseOf } from '../../lab/review.ts';
import { type InProcess, patchedPod, postReview, startInProcess } from '../support/live.ts';
import { writeServingFiles } from '../support/webhook.ts';

const POLICY = 'dns-tuner.io/policy';
const INFO = 'dns_tuner_cluster_info';

let dir: string;
let ca: string;
let tlsFlags: string[];
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-cluster-facts-'));
  const tls = await writeServingFiles(dir);
  ca = tls.ca.cert;
  tlsFlags = tls.flags;
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(configText?: string, seed: (fake: FakeKubeApi) => void = (fake) => seedClusterDns(fake)) {
  const fake = await startFakeKubeApi();
  cleanups.push(() => fake.close());
  fake.create('shop', { labels: { [POLICY]: 'default' } });
  seed(fake);
  let config = EXAMPLE_CONFIG;
  if (configText !== undefined) {
    config = join(dir, `config-${cleanups.length}.yaml`);
    await writeFile(config, configText);
  }
  const running: InProcess = await startInProcess([
    '--kubeconfig',
    fake.kubeconfigPath,
    '--config',
    config,
    ...tlsFlags,
  ]);
  cleanups.push(() => running.app.stop(0));
  await running.app.synced;
  return { fake, running, port: running.app.webhookPort, ops: running.app.opsPort };
}

interface Reviewed {
  dnsPolicy: unknown;
  nameservers: unknown;
  searches: unknown;
  warnings: string[];
}

async function review(port: number, namespace = 'shop'): Promise<Reviewed> {
  const result = await postReview(port, namespace, { ca });
  expect(result.status).toBe(200);
  const spec = patchedPod(namespace, result).spec;
  const dnsConfig = spec.dnsConfig as { nameservers?: string[]; searches?: string[] } | undefined;
  return {
    dnsPolicy: spec.dnsPolicy,
    nameservers: dnsConfig?.nameservers,
    searches: dnsConfig?.searches,
    warnings: responseOf(result.body).warnings ?? [],
  };
}

const rewritten = { dnsPolicy: 'None', nameservers: ['169.254.20.10', '10.96.0.10'] };
const optionsOnly = { dnsPolicy: 'ClusterFirst', nameservers: undefined };

/** Waits (up to 5 s: "within seconds") until the next review in shop gets `want`. */
async function nextPod(port: number, want: Partial<Reviewed>): Promise<Reviewed> {
  return eventually(async () => {
    const got = await review(port);
    expect(got).toMatchObject(want);
    return got;
  }, 5000);
}

function reviewLines(running: InProcess) {
  return running.logged('review').map((l) => l.reason);
}

describe('cluster facts in the running webhook', () => {
  it('a default-deny-egress policy makes the next pod options-only within seconds; deleting it restores the rewrite', async () => {
    const { fake, running, port, ops } = await start();
    expect((await readyz(ops)).status).toBe(200);
    await nextPod(port, rewritten);

    fake.createObject('networkpolicies', denyAllEgress('shop'));
    fake.createObject('networkpolicies', dnsToKubeDnsOnly('shop'));
    const blocked = await nextPod(port, optionsOnly);
    expect(blocked.warnings).toContain(
      'dns-tuner: options only: NetworkPolicy shop/default-deny-egress (+1) blocks DNS to node-local 169.254.20.10',
    );
    expect(reviewLines(running)).toContain('node-local-blocked-by-networkpolicy');
    expect(
      metricValue(
        await scrape(ops),
        'dns_tuner_reviews_total',
        'decision="mutated",reason="node-local-blocked-by-networkpolicy",policy="default",server_dry_run="false"',
      ),
    ).toBeGreaterThanOrEqual(1);

    // The fix the report offers, applied: the rewrite comes back.
    fake.createObject('networkpolicies', dnsToNodeLocal('shop'));
    await nextPod(port, rewritten);
    fake.deleteObject('networkpolicies', 'allow-node-local-dns', 'shop');
    await nextPod(port, optionsOnly);
    fake.deleteObject('networkpolicies', 'default-deny-egress', 'shop');
    fake.deleteObject('networkpolicies', 'allow-dns-to-kube-dns', 'shop');
    await nextPod(port, rewritten);
  });

  it('the DaemonSet losing its available pods, and turning transparent, show in the next review and the gauges', async () => {
    const { fake, running, port, ops } = await start();
    await nextPod(port, rewritten);
    fake.updateObject('daemonsets', nodeLocalDaemonSet({ available: 0 }));
    const down = await nextPod(port, optionsOnly);
    expect(down.warnings).toContain(
      'dns-tuner: options only: NodeLocal DNSCache kube-system/node-local-dns has no available pod (0/3)',
    );
    expect(metricValue(await scrape(ops), 'dns_tuner_node_local_available')).toBe(0);
    expect(running.logged('cluster DNS in force').at(-1)).toMatchObject({ nodeLocalAvailable: false, level: 40 });

    fake.updateObject('daemonsets', nodeLocalDaemonSet({ transparent: true }));
    const transparent = await nextPod(port, optionsOnly);
    expect(transparent.warnings.filter((w) => w.includes('options only'))).toEqual([]);
    const metrics = await scrape(ops);
    expect(
      metricValue(
        metrics,
        'dns_tuner_cluster_info',
        'kube_dns_ip="10.96.0.10",cluster_domain="cluster.local",node_local_mode="transparent"',
      ),
    ).toBe(1);
    expect(metricValue(metrics, 'dns_tuner_node_local_available')).toBe(1);
    expect(reviewLines(running)).toEqual(expect.arrayContaining(['node-local-unavailable', 'node-local-transparent']));

    fake.deleteObject('daemonsets', 'node-local-dns', KUBE_SYSTEM);
    await nextPod(port, optionsOnly);
    expect(reviewLines(running).at(-1)).toBe('node-local-unavailable');
  });

  it('the kube-dns Service IP changing: a configured clusterDNS becomes a mismatch (error log, metric, reason); an unset one follows it', async () => {
    const { fake, running, port, ops } = await start();
    await nextPod(port, rewritten);
    fake.updateObject('services', kubeDnsService(['10.96.0.11']));
    const wrong = await nextPod(port, optionsOnly);
    expect(JSON.stringify(wrong)).not.toContain('10.96.0.10');
    expect(reviewLines(running).at(-1)).toBe('cluster-dns-mismatch');
    expect(metricValue(await scrape(ops), 'dns_tuner_cluster_mismatch', 'field="clusterDNS"')).toBe(1);
    const errors = running.logged(
      'the config contradicts the cluster: pods that would carry the value get options only',
    );
    expect(errors).toEqual([
      expect.objectContaining({
        level: 50,
        field: 'clusterDNS',
        mismatch: 'config clusterDNS 10.96.0.10 is not an IP of Service kube-system/kube-dns (10.96.0.11)',
      }),
    ]);
    fake.updateObject('services', kubeDnsService(['10.96.0.10']));
    await nextPod(port, rewritten);
    expect(metricValue(await scrape(ops), 'dns_tuner_cluster_mismatch', 'field="clusterDNS"')).toBe(0);
    expect(running.logged('the config no longer contradicts the cluster')).toHaveLength(1);
  });

  it('an empty clusterDNS is discovered, and follows the Service', async () => {
    const example = parse(await import('node:fs/promises').then((fs) => fs.readFile(EXAMPLE_CONFIG, 'utf8'))) as Record<
      string,
      unknown
    >;
    delete example.clusterDNS;
    delete example.clusterDomain;
    const { fake, port, ops } = await start(stringify(example));
    await nextPod(port, { ...rewritten, searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'] });
    fake.updateObject('services', kubeDnsService(['10.96.0.11']));
    // The transparent check follows the Service too: the cache does not listen on the new IP.
    await nextPod(port, { dnsPolicy: 'None', nameservers: ['169.254.20.10', '10.96.0.11'] });
    expect(metricValue(await scrape(ops), 'dns_tuner_cluster_mismatch', 'field="clusterDNS"')).toBe(0);
  });

  it('serve --namespaces FILE reads the cluster facts from the same file', async () => {
    const file = join(dir, 'cluster.yaml');
    const items = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { [POLICY]: 'default' } } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', ...denyAllEgress('shop') },
      { apiVersion: 'v1', kind: 'Service', ...kubeDnsService() },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', ...nodeLocalDaemonSet() },
    ];
    await writeFile(file, stringify({ apiVersion: 'v1', kind: 'List', items }));
    const running = await startInProcess(['--namespaces', file, '--config', EXAMPLE_CONFIG, ...tlsFlags]);
    cleanups.push(() => running.app.stop(0));
    await running.app.synced;
    expect((await readyz(running.app.opsPort)).status).toBe(200);
    expect(await review(running.app.webhookPort)).toMatchObject(optionsOnly);
    expect(reviewLines(running)).toEqual(['node-local-blocked-by-networkpolicy']);
    const metrics = await scrape(running.app.opsPort);
    expect(
      metricValue(
        metrics,
        INFO,
        'kube_dns_ip="10.96.0.10",cluster_domain="cluster.local",node_local_mode="link-local"',
      ),
    ).toBe(1);
    // A file has no age and no RBAC.
    expect(metrics).not.toContain('dns_tuner_cluster_facts_last_event_age_seconds');
    expect(metrics).not.toContain('dns_tuner_cluster_facts_forbidden');
  });

  it('resources the API refuses (no RBAC): ready, a warning and a gauge, the config trusted', async () => {
    const { running, port, ops } = await start(undefined, (fake) => {
      fake.deny({ resource: 'services' });
      fake.deny({ resource: 'configmaps' });
      fake.deny({ resource: 'daemonsets' });
      fake.deny({ resource: 'networkpolicies' });
    });
    expect((await readyz(ops)).status).toBe(200);
    await nextPod(port, rewritten);
    const warned = running.logged(
      'cluster facts: the API server refuses this resource; the fact is not checked and the config is trusted',
    );
    expect(warned.map((l) => l.resource).sort()).toEqual(['configmaps', 'daemonsets', 'networkpolicies', 'services']);
    const metrics = await scrape(ops);
    expect(metricValue(metrics, 'dns_tuner_cluster_facts_forbidden', 'resource="networkpolicies"')).toBe(1);
    expect(metricValue(metrics, 'dns_tuner_ready', 'check="cluster-facts"')).toBe(1);
  });
});
