/**
 * The generic list+watch cache over kinds other than namespaces, against the fake API server: NetworkPolicies
 * across all namespaces (full objects, a projection that keeps two facts and drops policies without Egress), and
 * kube-system Services behind a label selector. The namespace source's own suite (test/namespaces/) covers the
 * same loop through its adapter.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventually } from '../../lab/eventually.ts';
import { collectionPath, type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { type ApiClient, createApiClient } from '../../src/kube/api-client.ts';
import { connectionOf, loadKubeConfig } from '../../src/kube/kubeconfig.ts';
import {
  createListWatchCache,
  type ListWatchCache,
  type ListWatchCacheOptions,
  type ListWatchObserver,
} from '../../src/kube/list-watch.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
});

/** What a decision about node-local DNS needs of a NetworkPolicy (a stand-in for issue 10's projection). */
interface EgressPolicy {
  podSelector: Record<string, string>;
  egressRules: number;
}

const policySchema = z.object({
  spec: z.object({
    podSelector: z.object({ matchLabels: z.record(z.string(), z.string()).optional() }),
    policyTypes: z.array(z.enum(['Ingress', 'Egress'])).optional(),
    egress: z.array(z.unknown()).optional(),
  }),
});

function projectPolicy(object: unknown): EgressPolicy | undefined {
  const parsed = policySchema.safeParse(object);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const { spec } = parsed.data;
  if (!spec.policyTypes?.includes('Egress')) return undefined;
  return { podSelector: spec.podSelector.matchLabels ?? {}, egressRules: spec.egress?.length ?? 0 };
}

function policy(name: string, namespace: string, types: string[], egress: unknown[] = []) {
  return {
    metadata: { name, namespace },
    spec: { podSelector: { matchLabels: { app: name } }, policyTypes: types, egress, ingress: [{ from: [] }] },
  };
}

function recorder() {
  const log = { relists: [] as string[], synced: [] as string[], restarts: [] as string[], errors: [] as string[] };
  const observer: ListWatchObserver = {
    onRelist: (reason) => log.relists.push(reason),
    onSynced: (info) => log.synced.push(info.reason),
    onWatchRestart: (reason) => log.restarts.push(reason),
    onError: (error, phase) => log.errors.push(`${phase}: ${error.message}`),
  };
  return { log, observer };
}

async function fakeApi(): Promise<{ fake: FakeKubeApi; client: ApiClient }> {
  const fake = await startFakeKubeApi();
  cleanups.push(async () => {
    const max = fake.maxConcurrentWatches;
    await fake.close();
    expect(max, 'watches open at once').toBeLessThanOrEqual(1);
  });
  for (const ns of ['shop', 'edge']) fake.create(ns);
  return { fake, client: createApiClient(connectionOf(loadKubeConfig({ kubeconfig: fake.kubeconfigPath }))) };
}

function cache<T>(
  client: ApiClient,
  options: Omit<ListWatchCacheOptions<T>, 'client'>,
): { cache: ListWatchCache<T>; log: ReturnType<typeof recorder>['log'] } {
  const { log, observer } = recorder();
  const created = createListWatchCache<T>({
    client,
    inactivityTimeoutMs: 5000,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    relistIntervalMs: 0,
    watchTimeoutSeconds: 60,
    observer,
    ...options,
  });
  cleanups.push(() => created.stop());
  return { cache: created, log };
}

const POLICIES = collectionPath('networkpolicies');

async function policies(options: Partial<ListWatchCacheOptions<EgressPolicy>> = {}) {
  const { fake, client } = await fakeApi();
  fake.createObject('networkpolicies', policy('deny-egress', 'shop', ['Ingress', 'Egress']));
  fake.createObject('networkpolicies', policy('ingress-only', 'shop', ['Ingress']));
  fake.createObject('networkpolicies', policy('allow-dns', 'edge', ['Egress'], [{ ports: [{ port: 53 }] }]));
  const { cache: policyCache, log } = cache<EgressPolicy>(client, {
    path: POLICIES,
    project: projectPolicy,
    ...options,
  });
  return { fake, cache: policyCache, log };
}

describe('list+watch cache: NetworkPolicies in every namespace', () => {
  it('keeps only the projection, keyed namespace/name, and follows ADDED, MODIFIED and DELETED', async () => {
    const { fake, cache: policyCache, log } = await policies();
    expect(policyCache.status()).toEqual({ ready: false, reason: 'networkpolicies cache has not synced yet', size: 0 });
    await policyCache.start();
    expect(policyCache.status()).toEqual({ ready: true, size: 2 });
    expect(Object.fromEntries(policyCache.entries())).toEqual({
      'edge/allow-dns': { podSelector: { app: 'allow-dns' }, egressRules: 1 },
      'shop/deny-egress': { podSelector: { app: 'deny-egress' }, egressRules: 0 },
    });
    expect(log.synced).toEqual(['initial']);
    const list = fake.requests.find((r) => r.kind === 'list')!;
    expect(list).toMatchObject({ path: '/apis/networking.k8s.io/v1/networkpolicies', accept: 'application/json' });
    await eventually(() => expect(fake.openWatches).toBe(1));

    // A policy that gains Egress enters the cache; one that loses it leaves; a deletion removes it.
    fake.updateObject('networkpolicies', {
      metadata: { name: 'ingress-only', namespace: 'shop' },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    await eventually(() => expect(policyCache.get('shop/ingress-only')).toEqual({ podSelector: {}, egressRules: 0 }));
    fake.updateObject('networkpolicies', {
      metadata: { name: 'deny-egress', namespace: 'shop' },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
    await eventually(() => expect(policyCache.get('shop/deny-egress')).toBeUndefined());
    fake.deleteObject('networkpolicies', 'allow-dns', 'edge');
    await eventually(() => expect(policyCache.size).toBe(1));
    expect(policyCache.stats()).toMatchObject({
      phase: 'watching',
      watchesOpen: 1,
      resourceVersion: String(fake.resourceVersion),
      events: { ADDED: 0, MODIFIED: 2, DELETED: 1, BOOKMARK: 0, ERROR: 0 },
    });
    expect(fake.counts.list).toBe(1);
  });

  it('relists on 410 at watch start, and the relist replaces the store (what was deleted meanwhile is gone)', async () => {
    const { fake, cache: policyCache, log } = await policies();
    await policyCache.start();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.hangWatches(true);
    fake.deleteObject('networkpolicies', 'allow-dns', 'edge');
    fake.createObject('networkpolicies', policy('new', 'edge', ['Egress']));
    fake.compact();
    fake.hangWatches(false);
    fake.dropWatches();
    await eventually(() => expect(log.synced).toEqual(['initial', 'expired']));
    expect(log.restarts).toEqual(['error', 'expired']);
    expect([...policyCache.entries()].map(([key]) => key).sort()).toEqual(['edge/new', 'shop/deny-egress']);
    expect(fake.counts.expired).toBe(1);
    await eventually(() => expect(fake.openWatches).toBe(1));
  });

  it('relists on an ERROR 410 event in the stream, both when the watch falls behind and at its start', async () => {
    const { fake, cache: policyCache, log } = await policies();
    await policyCache.start();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.expireWatches('networkpolicies');
    await eventually(() => expect(log.synced).toEqual(['initial', 'expired']));
    expect(policyCache.stats().events.ERROR).toBe(1);

    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.expiredAs = 'event';
    fake.hangWatches(true);
    fake.createObject('networkpolicies', policy('missed', 'shop', ['Egress']));
    fake.compact();
    fake.hangWatches(false);
    fake.dropWatches();
    await eventually(() => expect(log.synced).toEqual(['initial', 'expired', 'expired']));
    expect(policyCache.get('shop/missed')).toBeDefined();
  });

  it('relists when the watch goes silent (half-open connection), and catches up', async () => {
    const { fake, cache: policyCache, log } = await policies({ inactivityTimeoutMs: 300 });
    await policyCache.start();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.hangWatches(true);
    fake.createObject('networkpolicies', policy('during-hang', 'shop', ['Egress']));
    await eventually(() => expect(log.relists).toContain('inactivity'));
    expect(log.restarts[0]).toBe('inactivity');
    expect(log.errors[0]).toBe('watch: watch networkpolicies: no event or bookmark for 300 ms');
    await eventually(() => expect(policyCache.get('shop/during-hang')).toBeDefined());
    fake.hangWatches(false);
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.createObject('networkpolicies', policy('after-hang', 'shop', ['Egress']));
    await eventually(() => expect(policyCache.get('shop/after-hang')).toBeDefined());
  });

  it('fails a list whose object is malformed, naming the object and the field, and recovers once it is fixed', async () => {
    const { fake, cache: policyCache, log } = await policies();
    fake.createObject('networkpolicies', {
      metadata: { name: 'broken', namespace: 'shop' },
      spec: { podSelector: {}, policyTypes: 'Egress' },
    });
    const started = policyCache.start();
    await eventually(() => expect(log.errors.length).toBeGreaterThanOrEqual(2));
    expect(log.errors[0]).toMatch(/^list: list networkpolicies: unexpected object shop\/broken: spec\.policyTypes: /);
    expect(policyCache.status().reason).toMatch(/^networkpolicies cache has not synced yet \(last error: list /);
    fake.updateObject('networkpolicies', {
      metadata: { name: 'broken', namespace: 'shop' },
      spec: { podSelector: {}, policyTypes: ['Egress'] },
    });
    await started;
    expect(policyCache.status()).toEqual({ ready: true, size: 3 });
    expect(log.relists.every((r) => r === 'initial')).toBe(true);
  });

  it('a fault on one kind leaves the other kinds alone', async () => {
    const { fake, cache: policyCache, log } = await policies();
    const { cache: namespaces } = cache(
      createApiClient(connectionOf(loadKubeConfig({ kubeconfig: fake.kubeconfigPath }))),
      {
        path: '/api/v1/namespaces',
        name: 'namespace cache',
        metadataOnly: true,
        project: () => true,
      },
    );
    fake.setFault('list', 'error', 'networkpolicies');
    const started = policyCache.start();
    await namespaces.start();
    expect(namespaces.status()).toEqual({ ready: true, size: 6 });
    await eventually(() => expect(log.errors[0]).toMatch(/HTTP 500/));
    fake.setFault('list', 'none', 'networkpolicies');
    await started;
    expect(policyCache.status().ready).toBe(true);
  });
});

describe('list+watch cache: a namespaced path with a label selector', () => {
  it('holds only what the selector matches in that namespace; an object that stops matching leaves', async () => {
    const { fake, client } = await fakeApi();
    const service = (name: string, namespace: string, labels: Record<string, string>, clusterIP: string) => ({
      metadata: { name, namespace, labels },
      spec: { clusterIP, ports: [{ port: 53, protocol: 'UDP' }] },
    });
    fake.createObject('services', service('kube-dns', 'kube-system', { 'k8s-app': 'kube-dns' }, '10.96.0.10'));
    fake.createObject('services', service('metrics', 'kube-system', { 'k8s-app': 'metrics' }, '10.96.0.20'));
    fake.createObject('services', service('fake-dns', 'shop', { 'k8s-app': 'kube-dns' }, '10.96.0.30'));
    const clusterIP = z.object({ spec: z.object({ clusterIP: z.string() }) });
    const { cache: services } = cache(client, {
      path: '/api/v1/namespaces/kube-system/services',
      labelSelector: 'k8s-app=kube-dns',
      project: (object) => clusterIP.parse(object).spec.clusterIP,
    });
    await services.start();
    expect(Object.fromEntries(services.entries())).toEqual({ 'kube-system/kube-dns': '10.96.0.10' });
    expect(fake.requests.find((r) => r.kind === 'list')!.query).toMatchObject({ labelSelector: 'k8s-app=kube-dns' });
    await eventually(() => expect(fake.openWatches).toBe(1));
    expect(fake.requests.find((r) => r.kind === 'watch')!.query).toMatchObject({ labelSelector: 'k8s-app=kube-dns' });

    fake.updateObject('services', { metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { x: 'y' } } });
    await eventually(() => expect(services.size).toBe(0));
    expect(services.stats().events.DELETED).toBe(1);
    fake.updateObject('services', {
      metadata: { name: 'metrics', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    });
    await eventually(() => expect(services.get('kube-system/metrics')).toBe('10.96.0.20'));
  });
});

describe('list+watch cache: filling gaps and stopping', () => {
  it('fills a gap only within the same generation, never a key present or deleted by the watch', async () => {
    const { fake, cache: policyCache, log } = await policies();
    await policyCache.start();
    await eventually(() => expect(fake.openWatches).toBe(1));
    const generation = policyCache.generation();
    const filler: EgressPolicy = { podSelector: { filled: 'yes' }, egressRules: 9 };
    expect(policyCache.fill('shop/deny-egress', filler, generation)).toBe(false); // present: the watch's word stands
    fake.deleteObject('networkpolicies', 'allow-dns', 'edge');
    await eventually(() => expect(policyCache.get('edge/allow-dns')).toBeUndefined());
    expect(policyCache.fill('edge/allow-dns', filler, generation)).toBe(false); // deleted since the list
    expect(policyCache.fill('edge/from-a-get', filler, generation)).toBe(true);
    expect(policyCache.get('edge/from-a-get')).toEqual(filler);

    fake.expireWatches();
    await eventually(() => expect(log.synced).toHaveLength(2));
    expect(policyCache.generation()).not.toBe(generation);
    expect(policyCache.get('edge/from-a-get')).toBeUndefined(); // the relist is the authority
    expect(policyCache.fill('edge/late', filler, generation)).toBe(false); // a GET that started before the relist
    // A new generation starts with a clean slate: what a GET finds after the relist fills its gap.
    expect(policyCache.fill('edge/allow-dns', filler, policyCache.generation())).toBe(true);
  });

  it('stop() ends the loop and its connection; start() afterwards is refused', async () => {
    const { fake, cache: policyCache } = await policies();
    await policyCache.start();
    await eventually(() => expect(fake.openWatches).toBe(1));
    await policyCache.stop();
    expect(policyCache.stats()).toMatchObject({ phase: 'stopped', watchesOpen: 0 });
    await eventually(() => expect(fake.openConnections).toBe(0));
    await expect(policyCache.start()).resolves.toBeUndefined(); // the same, already settled start
    const { fake: other, client } = await fakeApi();
    const { cache: never } = cache(client, { path: POLICIES, project: projectPolicy });
    await never.stop();
    await expect(never.start()).rejects.toThrow('networkpolicies cache is stopped');
    expect(other.counts.list).toBe(0);
  });
});
