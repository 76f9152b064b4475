import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  asListed,
  coreDnsConfigMap,
  denyAllEgress,
  dnsToKubeDnsOnly,
  kubeDnsService,
  nodeLocalDaemonSet,
} from '../../lab/cluster-dns.ts';
import { EXAMPLE_NAMESPACES } from '../../lab/paths.ts';
import { clusterView } from '../../src/core/cluster-rules.ts';
import {
  createFileNamespaceSource,
  openObjectFile,
  parseNamespaceFile,
  parseObjectFile,
} from '../../src/namespaces/file-source.ts';
import { exampleConfig } from '../support/engine.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-ns-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const namesOf = (text: string) => {
  const parsed = parseNamespaceFile(text, 'ns.yaml');
  if (!parsed.ok) throw new Error(parsed.error);
  return [...parsed.namespaces.keys()];
};
const errorOf = (text: string) => {
  const parsed = parseNamespaceFile(text, 'ns.yaml');
  if (parsed.ok) throw new Error('expected an error');
  return parsed.error;
};

describe('parseNamespaceFile', () => {
  it('reads a List (kubectl get ns -o yaml), a multi-document stream and a plain sequence alike', () => {
    expect(namesOf('apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n')).toEqual([
      'a',
      'b',
    ]);
    expect(namesOf('kind: NamespaceList\napiVersion: v1\nitems: []\n')).toEqual([]);
    expect(namesOf('apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nmetadata: {name: b}\n---\n')).toEqual([
      'a',
      'b',
    ]);
    expect(namesOf('- metadata: {name: a}\n- metadata: {name: b}\n')).toEqual(['a', 'b']);
  });

  it('keeps only dns-tuner.io/* labels and annotations', () => {
    const parsed = parseNamespaceFile(
      'metadata:\n  name: shop\n  labels: {dns-tuner.io/policy: default, team: web}\n  annotations: {dns-tuner.io/mode: dry-run, owner: me}\n',
      'ns.yaml',
    );
    expect(parsed.ok && parsed.namespaces.get('shop')).toEqual({
      name: 'shop',
      labels: { 'dns-tuner.io/policy': 'default' },
      annotations: { 'dns-tuner.io/mode': 'dry-run' },
    });
  });

  it.each([
    [
      '- metadata: {name: a, labels: {dns-tuner.io/policy: 3}}\n',
      'ns.yaml:1:3: item 1 (a): metadata.labels.dns-tuner.io/policy: must be a string, got 3',
    ],
    [
      '- metadata: {name: a}\n- metadata: {name: Shop_1}\n',
      'ns.yaml:2:3: item 2 (Shop_1): metadata.name: "Shop_1" is not a DNS label (RFC 1123)',
    ],
    [
      '- kind: Pod\n  metadata: {name: a}\n',
      'ns.yaml:1:3: item 1 (a): kind: must be one of Namespace, NetworkPolicy, Service, ConfigMap, DaemonSet, got "Pod"',
    ],
    ['- metadata: {labels: {}}\n', 'ns.yaml:1:3: item 1: metadata.name: is required'],
    ['- metadata: {name: a}\n- metadata: {name: a}\n', 'ns.yaml:2:3: item 2 (a): namespace "a" is listed twice'],
    ['- just-a-string\n', 'ns.yaml:1:3: item 1: must be a Namespace object, got "just-a-string"'],
  ])('%j → %s', (text, message) => {
    expect(errorOf(text)).toBe(message);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(errorOf('- metadata:\n    name: a\n  labels: [\n')).toMatch(/^ns\.yaml:4:1: YAML syntax error: /);
  });

  it('reports an alias to no anchor as an error naming the file and the line, not a throw', () => {
    expect(errorOf('- metadata: {name: a}\n---\n- metadata: {name: b, labels: *labels}\n')).toBe(
      'ns.yaml:3:31: YAML error: Unresolved alias (the anchor must be set before the alias): labels',
    );
  });
});

describe('createFileNamespaceSource', () => {
  it('is not ready until started, then answers found / not found', async () => {
    const source = createFileNamespaceSource(EXAMPLE_NAMESPACES);
    expect(source.status()).toMatchObject({ ready: false });
    expect(await source.lookup('shop')).toMatchObject({ found: false, error: expect.stringContaining('not loaded') });
    await source.start();
    expect(source.status()).toEqual({ ready: true, size: 5 });
    expect(await source.lookup('shop')).toEqual({
      found: true,
      namespace: { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' }, annotations: {} },
    });
    expect(await source.lookup('nowhere')).toEqual({ found: false });
    await source.stop();
  });

  it('refuses to start on a missing or invalid file, naming it', async () => {
    const missing = join(dir, 'missing.yaml');
    await expect(createFileNamespaceSource(missing).start()).rejects.toThrow(`namespace file ${missing}: not found`);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, '- metadata: {name: UPPER}\n');
    await expect(createFileNamespaceSource(bad).start()).rejects.toThrow(`namespace file ${bad}:1:3: item 1 (UPPER)`);
  });
});

/** What `kubectl get ns,networkpolicies -A -o yaml` then `kubectl -n kube-system get svc/kube-dns cm/coredns ds -o yaml`
 * print, joined by `---`. */
function kubectlOutput(): string {
  const list = (items: unknown[]) =>
    stringify({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } });
  const namespaces = list([
    asListed('Namespace', 'v1', { metadata: { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' } } }),
    asListed('Namespace', 'v1', { metadata: { name: 'locked', labels: { 'dns-tuner.io/policy': 'default' } } }),
    asListed('NetworkPolicy', 'networking.k8s.io/v1', denyAllEgress('locked')),
    asListed('NetworkPolicy', 'networking.k8s.io/v1', dnsToKubeDnsOnly('locked')),
  ]);
  const kubeSystem = list([
    asListed('Service', 'v1', kubeDnsService()),
    asListed('ConfigMap', 'v1', coreDnsConfigMap()),
    asListed('DaemonSet', 'apps/v1', nodeLocalDaemonSet()),
    asListed('DaemonSet', 'apps/v1', {
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      spec: { template: { spec: { containers: [{ name: 'kube-proxy', command: ['kube-proxy'] }] } } },
    }),
  ]);
  return `${namespaces}---\n${kubeSystem}`;
}

describe('parseObjectFile: every kind the cluster facts read, as kubectl prints them', () => {
  it('reads mixed Lists in a multi-document stream; keeps the node-cache DaemonSet only', () => {
    const parsed = parseObjectFile(kubectlOutput(), 'cluster.yaml');
    if (!parsed.ok) throw new Error(parsed.error);
    expect([...parsed.namespaces.keys()]).toEqual(['shop', 'locked']);
    expect([...(parsed.objects.services?.entries() ?? [])]).toEqual([
      ['kube-system/kube-dns', { ips: ['10.96.0.10'] }],
    ]);
    expect(parsed.objects.configMaps?.get('kube-system/coredns')).toEqual({ zones: ['cluster.local'] });
    expect(parsed.objects.daemonSets?.map((ds) => ds.name)).toEqual(['node-local-dns']);
    expect(parsed.objects.networkPolicies?.get('locked')?.map((p) => p.name)).toEqual([
      'default-deny-egress',
      'allow-dns-to-kube-dns',
    ]);
  });

  it('a kind absent from the file is not known; a kind present is, even when empty of what it looks for', () => {
    const parsed = parseObjectFile(
      stringify([
        asListed('DaemonSet', 'apps/v1', {
          metadata: { name: 'x', namespace: 'kube-system' },
          spec: { template: { spec: { containers: [{ name: 'c' }] } } },
        }),
      ]),
      'f.yaml',
    );
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.objects).toEqual({ daemonSets: [] });
  });

  it.each([
    [
      stringify([asListed('Pod', 'v1', { metadata: { name: 'p', namespace: 'shop' } })]),
      'f.yaml:1:3: item 1 (p): kind: must be one of Namespace, NetworkPolicy, Service, ConfigMap, DaemonSet, got "Pod"',
    ],
    [
      stringify([
        asListed('NetworkPolicy', 'networking.k8s.io/v1', {
          metadata: { name: 'p', namespace: 'shop' },
          spec: { egress: [{ ports: [{ port: 0 }] }] },
        }),
      ]),
      'f.yaml:1:3: item 1 (p): NetworkPolicy shop/p: spec.egress.0.ports.0.port: 0 is not a port number (1-65535)',
    ],
    [
      stringify([asListed('Service', 'v1', kubeDnsService(['10.96.0.300']))]),
      'f.yaml:1:3: item 1 (kube-dns): Service kube-system/kube-dns: spec.clusterIPs.0: "10.96.0.300" is not an IP address',
    ],
    [
      stringify([asListed('ConfigMap', 'v1', coreDnsConfigMap()), asListed('ConfigMap', 'v1', coreDnsConfigMap())]),
      expect.stringMatching(/^f\.yaml:\d+:3: item 2 \(coredns\): ConfigMap kube-system\/coredns is listed twice$/),
    ],
  ])('refuses what it cannot read, naming the line, the object, the field and the value (%#)', (text, message) => {
    const parsed = parseObjectFile(text, 'f.yaml');
    expect(parsed.ok ? 'parsed' : parsed.error).toEqual(message);
  });
});

describe('openObjectFile: both offline sources over one file', () => {
  it('gives the facts the cluster would, so explain sees what the cluster decides', async () => {
    const path = join(dir, 'cluster.yaml');
    await writeFile(path, kubectlOutput());
    const config = exampleConfig();
    const file = openObjectFile(path, config.discovery);
    expect(file.clusterFacts.status()).toMatchObject({ ready: false });
    await file.clusterFacts.start();
    expect(await file.namespaces.lookup('locked')).toMatchObject({ found: true });
    const facts = file.clusterFacts.facts('locked');
    expect(facts).toMatchObject({ origin: `file ${path}`, unknown: {}, kubeDns: { ips: ['10.96.0.10'] } });
    expect(facts.networkPolicies).toHaveLength(2);
    expect(clusterView(config, facts).nodeLocal).toMatchObject({ mode: 'link-local', available: true });
  });

  it('with Namespaces only (the examples), nothing is known and the config is trusted, said by kind', async () => {
    const file = openObjectFile(EXAMPLE_NAMESPACES);
    await file.namespaces.start();
    const facts = file.clusterFacts.facts('shop');
    expect(facts.kubeDns).toBeUndefined();
    expect(facts.unknown).toEqual({
      kubeDns: `no services in file ${EXAMPLE_NAMESPACES}`,
      coreDns: `no configmaps in file ${EXAMPLE_NAMESPACES}`,
      nodeLocalDaemonSets: `no daemonsets in file ${EXAMPLE_NAMESPACES}`,
      networkPolicies: `no networkpolicies in file ${EXAMPLE_NAMESPACES}`,
    });
    expect(clusterView(exampleConfig(), facts).clusterDNS.from).toBe(
      `config (not verified: no services in file ${EXAMPLE_NAMESPACES})`,
    );
  });
});
