import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../lab/eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { spawnNode } from '../../lab/process.ts';
import { createNamespaceMetrics } from '../../src/metrics/runtime-metrics.ts';
import {
  type ClusterNamespaceSource,
  type ClusterNamespaceSourceOptions,
  type ClusterSourceObserver,
  combineObservers,
  createClusterNamespaceSource,
  KubeConfigError,
  loadKubeConfig,
  NOT_FOUND_TTL_MS,
} from '../../src/namespaces/cluster-source.ts';

function recorder() {
  const log = {
    relists: [] as string[],
    synced: [] as Array<{ reason: string; size: number; resourceVersion: string; pages: number }>,
    restarts: [] as string[],
    events: [] as string[],
    directGets: [] as string[],
    errors: [] as string[],
  };
  const observer: ClusterSourceObserver = {
    onRelist: (reason) => log.relists.push(reason),
    onSynced: (info) => log.synced.push(info),
    onWatchRestart: (reason) => log.restarts.push(reason),
    onEvent: (type) => log.events.push(type),
    onDirectGet: (result) => log.directGets.push(result),
    onError: (err, phase) => log.errors.push(`${phase}: ${err.message}`),
  };
  return { log, observer };
}

// Short timers so every scenario settles in well under a second; periodic relists off unless a test wants them.
const fast: ClusterNamespaceSourceOptions = {
  inactivityTimeoutMs: 5000,
  backoffInitialMs: 20,
  backoffMaxMs: 200,
  relistIntervalMs: 0,
  directGetTimeoutMs: 300,
  watchTimeoutSeconds: 60,
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  // Run every cleanup even if one fails (a failed assertion must not leak a server or a temp dir).
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
});

async function setup(options: ClusterNamespaceSourceOptions = {}, start = true) {
  const fake = await startFakeKubeApi();
  cleanups.push(async () => {
    const max = fake.maxConcurrentWatches;
    await fake.close();
    // Whatever a test did, the loop never held two watches at once.
    expect(max).toBeLessThanOrEqual(1);
  });
  const { log, observer } = recorder();
  const source = createClusterNamespaceSource({ kubeconfig: fake.kubeconfigPath, ...fast, observer, ...options });
  cleanups.push(() => source.stop());
  if (start) await source.start();
  return { fake, source, log };
}

/** A lookup that must be answered from the cache: it fails the test if it caused a direct GET. */
async function cached(fake: FakeKubeApi, source: ClusterNamespaceSource, name: string) {
  const gets = fake.counts.get;
  const result = await source.lookup(name);
  expect(fake.counts.get, `lookup("${name}") went to the API`).toBe(gets);
  return result;
}

describe('cluster namespace source: sync', () => {
  it('is not ready before the first list, then serves the listed namespaces from the cache', async () => {
    const fake = await startFakeKubeApi();
    cleanups.push(() => fake.close());
    fake.create('shop', {
      labels: { 'dns-tuner.io/policy': 'fast', team: 'checkout' },
      annotations: { 'dns-tuner.io/ndots': '2', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    });
    const { log, observer } = recorder();
    const source = createClusterNamespaceSource({ kubeconfig: fake.kubeconfigPath, ...fast, observer });
    cleanups.push(() => source.stop());

    expect(source.status()).toMatchObject({ ready: false, size: 0 });
    expect(source.status().reason).toMatch(/not synced/);
    expect(source.lastHeardAt()).toBeUndefined();
    await source.start();
    expect(source.status()).toEqual({ ready: true, size: 5 });
    expect(source.lastHeardAt()).toBeDefined(); // the list counts as hearing from the API server
    expect(log.relists).toEqual(['initial']);
    expect(log.synced).toEqual([
      { reason: 'initial', size: 5, resourceVersion: String(fake.resourceVersion), pages: 1 },
    ]);

    // Only the dns-tuner.io/* keys are kept.
    expect(await cached(fake, source, 'shop')).toEqual({
      found: true,
      namespace: {
        name: 'shop',
        labels: { 'dns-tuner.io/policy': 'fast' },
        annotations: { 'dns-tuner.io/ndots': '2' },
      },
    });
    expect(await cached(fake, source, 'kube-system')).toMatchObject({ found: true });

    // The wire requests are the ones an informer makes: metadata-only, bookmarks on, bounded watch from the list RV.
    const list = fake.requests.find((r) => r.kind === 'list')!;
    expect(list.accept).toContain('as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');
    expect(list.query).toMatchObject({ limit: '500' });
    expect(list.query.resourceVersion).toBeUndefined();
    const watch = await eventually(() => {
      const found = fake.requests.find((r) => r.kind === 'watch');
      expect(found).toBeDefined();
      return found!;
    });
    expect(watch.query).toMatchObject({
      watch: '1',
      allowWatchBookmarks: 'true',
      resourceVersion: String(fake.resourceVersion),
      timeoutSeconds: '60',
    });
    expect(watch.accept).toContain('as=PartialObjectMetadata;g=meta.k8s.io;v=v1');
  });

  it('pages through a chunked list and swaps the whole cache at once', async () => {
    const { fake, source, log } = await setup({ pageSize: 2 }, false);
    for (const name of ['a', 'b', 'c']) fake.create(name);
    await source.start();
    expect(fake.counts.list).toBe(4);
    expect(fake.requests.filter((r) => r.kind === 'list').map((r) => r.query.continue)).toEqual([
      undefined,
      '1:2',
      '1:4',
      '1:6',
    ]);
    expect(log.synced[0]).toMatchObject({ size: 7, pages: 4 });
    expect(source.status()).toEqual({ ready: true, size: 7 });
  });

  it('follows ADDED, label changes (MODIFIED) and DELETED', async () => {
    const { fake, source } = await setup();
    fake.create('team-a', { labels: { 'dns-tuner.io/policy': 'fast' } });
    await eventually(() => expect(source.stats().events.ADDED).toBe(1));
    expect(await cached(fake, source, 'team-a')).toMatchObject({
      found: true,
      namespace: { labels: { 'dns-tuner.io/policy': 'fast' } },
    });

    fake.setLabel('team-a', 'dns-tuner.io/policy', 'strict');
    await eventually(async () =>
      expect(await cached(fake, source, 'team-a')).toMatchObject({
        namespace: { labels: { 'dns-tuner.io/policy': 'strict' } },
      }),
    );
    fake.setLabel('team-a', 'dns-tuner.io/policy', undefined);
    await eventually(async () =>
      expect(await cached(fake, source, 'team-a')).toMatchObject({ found: true, namespace: { labels: {} } }),
    );

    fake.delete('team-a');
    await eventually(() => expect(source.stats().events.DELETED).toBe(1));
    expect(source.status().size).toBe(4);
    // Gone from the cache: the lookup asks the API, which says 404.
    expect(await source.lookup('team-a')).toEqual({ found: false });
    expect(source.stats().resourceVersion).toBe(String(fake.resourceVersion));
    expect(fake.counts.list).toBe(1);
  });

  it('advances its resourceVersion on BOOKMARK and resumes the next watch from it', async () => {
    const { fake, source } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    const listed = source.stats().resourceVersion;
    fake.advance(5); // writes to other resources move etcd's revision
    fake.bookmark();
    await eventually(() => expect(source.stats().resourceVersion).toBe(String(fake.resourceVersion)));
    expect(source.stats().resourceVersion).not.toBe(listed);
    expect(source.stats().events.BOOKMARK).toBe(1);

    // History before the bookmark is compacted away: resuming from the bookmark needs no relist.
    fake.compact();
    fake.dropWatches();
    await eventually(() => expect(fake.requests.filter((r) => r.kind === 'watch')).toHaveLength(2));
    const resumed = fake.requests.filter((r) => r.kind === 'watch')[1]!;
    expect(resumed.query.resourceVersion).toBe(String(fake.resourceVersion));
    await eventually(() => expect(fake.openWatches).toBe(1));
    expect(fake.counts.expired).toBe(0);
    expect(fake.counts.list).toBe(1);
  });
});

describe('cluster namespace source: recovery', () => {
  it('relists on 410 Gone at watch start and carries on watching', async () => {
    const { fake, source, log } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    // The open watch misses an event, the history is compacted past it, and the connection drops: the reconnect
    // asks for a resourceVersion the server no longer has.
    fake.hangWatches(true);
    fake.create('missed', { labels: { 'dns-tuner.io/policy': 'fast' } });
    fake.compact();
    fake.hangWatches(false);
    fake.dropWatches();

    await eventually(() => expect(log.synced.map((x) => x.reason)).toEqual(['initial', 'expired']));
    expect(fake.counts.expired).toBe(1);
    expect(log.restarts).toEqual(['error', 'expired']);
    expect(await cached(fake, source, 'missed')).toMatchObject({ found: true });

    fake.create('after');
    await eventually(() => expect(source.stats().events.ADDED).toBe(1));
    expect(await cached(fake, source, 'after')).toMatchObject({ found: true });
    expect(source.status().ready).toBe(true);
  });

  it('relists on an ERROR 410 event in the stream', async () => {
    const { fake, source, log } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.expireWatches();
    await eventually(() => expect(log.synced.map((x) => x.reason)).toEqual(['initial', 'expired']));
    expect(source.stats().events.ERROR).toBe(1);

    // Same again, with the watch cache's way of refusing an old resourceVersion: 200 + ERROR event.
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.expiredAs = 'event';
    fake.hangWatches(true);
    fake.create('missed');
    fake.compact();
    fake.hangWatches(false);
    fake.dropWatches();
    await eventually(() => expect(log.synced.map((x) => x.reason)).toEqual(['initial', 'expired', 'expired']));
    expect(await cached(fake, source, 'missed')).toMatchObject({ found: true });
    await eventually(() => expect(fake.openWatches).toBe(1));
  });

  it('reconnects after a dropped connection and catches up from the last resourceVersion', async () => {
    const { fake, source, log } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.hangWatches(true);
    fake.create('while-away', { annotations: { 'dns-tuner.io/ndots': '1' } });
    fake.hangWatches(false);
    fake.dropWatches();

    await eventually(() => expect(source.stats().events.ADDED).toBe(1));
    expect(await cached(fake, source, 'while-away')).toMatchObject({
      namespace: { annotations: { 'dns-tuner.io/ndots': '1' } },
    });
    expect(log.restarts).toEqual(['error']);
    expect(fake.counts.list).toBe(1); // caught up through the watch, no relist
    expect(fake.counts.watch).toBe(2);
  });

  it('backs off while the API refuses watches, and recovers', async () => {
    const { fake, source, log } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.setFault('watch', 'error');
    fake.dropWatches();
    await eventually(() => expect(fake.counts.watch).toBeGreaterThanOrEqual(5));
    expect(log.errors.some((e) => e.includes('watch namespaces: HTTP 500: Internal error occurred'))).toBe(true);
    fake.setFault('watch', 'none');
    fake.create('later');
    await eventually(() => expect(source.stats().events.ADDED).toBe(1), 3000);
    expect(await cached(fake, source, 'later')).toMatchObject({ found: true });
  });

  it('re-opens a watch the server ended at timeoutSeconds, without relisting', async () => {
    const { fake, log } = await setup({ watchTimeoutSeconds: 1 });
    await eventually(() => expect(fake.counts.watch).toBeGreaterThanOrEqual(2), 4000);
    await eventually(() => expect(fake.openWatches).toBe(1));
    expect(log.restarts[0]).toBe('closed');
    expect(fake.counts.list).toBe(1);
  });

  it('detects a hung watch with the inactivity timer, relists and catches up', async () => {
    const { fake, source, log } = await setup({ inactivityTimeoutMs: 400 });
    await eventually(() => expect(fake.openWatches).toBe(1));
    // Half-open connection: the socket stays up, nothing arrives.
    fake.hangWatches(true);
    fake.create('during-hang');
    await eventually(() => expect(log.synced.map((x) => x.reason)).toContain('inactivity'));
    expect(log.restarts[0]).toBe('inactivity');
    expect(await cached(fake, source, 'during-hang')).toMatchObject({ found: true });
    fake.hangWatches(false);

    // A watch whose response never even starts is caught the same way.
    fake.setFault('watch', 'hang');
    const before = log.relists.length;
    await eventually(() => expect(log.relists.length).toBeGreaterThan(before));
    fake.setFault('watch', 'none');
    await eventually(() => expect(fake.openWatches).toBe(1));
    const added = source.stats().events.ADDED;
    fake.create('after-hang');
    await eventually(() => expect(source.stats().events.ADDED).toBe(added + 1));
    expect(await cached(fake, source, 'after-hang')).toMatchObject({ found: true });
  });

  it('relists periodically', async () => {
    const { fake, log } = await setup({ relistIntervalMs: 150 });
    await eventually(() => expect(fake.counts.list).toBeGreaterThanOrEqual(3));
    expect(log.relists.slice(0, 3)).toEqual(['initial', 'periodic', 'periodic']);
    expect(log.restarts[0]).toBe('periodic');
  });

  it('keeps one watch at a time and converges under churn', async () => {
    const { fake, source } = await setup({ inactivityTimeoutMs: 300, relistIntervalMs: 120 });
    for (let i = 0; i < 30; i++) {
      const step = i % 5;
      if (step === 0) fake.dropWatches();
      else if (step === 1) fake.expireWatches();
      else if (step === 2) fake.bookmark();
      else if (step === 3) fake.compact();
      fake.create(`churn-${i}`);
      if (i % 3 === 0) fake.delete(`churn-${i}`);
      expect(source.stats().watchesOpen).toBeLessThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await eventually(() => {
      expect(source.status().size).toBe(fake.names().length);
      expect(source.stats().resourceVersion).toBe(String(fake.resourceVersion));
    });
    for (const name of fake.names()) expect(await cached(fake, source, name)).toMatchObject({ found: true });
    expect(fake.maxConcurrentWatches).toBe(1);
  });
});

describe('cluster namespace source: lookups of unseen namespaces', () => {
  it('GETs a namespace the cache has not seen, caches it, and answers 404 as not found', async () => {
    const { fake, source, log } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.hangWatches(true); // the watch lags behind
    fake.create('fresh', { labels: { 'dns-tuner.io/policy': 'fast' } });

    // Not at hand: only lookup() can tell (with a GET).
    expect(source.cached('fresh')).toBeUndefined();
    expect(await source.lookup('fresh')).toEqual({
      found: true,
      namespace: { name: 'fresh', labels: { 'dns-tuner.io/policy': 'fast' }, annotations: {} },
    });
    expect(fake.counts.get).toBe(1);
    expect(fake.requests.find((r) => r.kind === 'get')!.accept).toContain('as=PartialObjectMetadata;');
    expect(await cached(fake, source, 'fresh')).toMatchObject({ found: true });
    expect(source.cached('fresh')).toEqual(await source.lookup('fresh'));

    expect(await source.lookup('nope')).toEqual({ found: false });
    expect(log.directGets).toEqual(['found', 'not-found']);

    // A burst of pods in a new namespace shares one GET.
    fake.create('burst');
    const gets = fake.counts.get;
    const results = await Promise.all(Array.from({ length: 10 }, () => source.lookup('burst')));
    expect(results.every((r) => r.found)).toBe(true);
    expect(fake.counts.get).toBe(gets + 1);
  });

  it('remembers a "not found" for a while: random names cannot turn into a GET each', async () => {
    let clock = 1_000_000;
    const { fake, source, log } = await setup({ now: () => clock });
    expect(await source.lookup('ghost')).toEqual({ found: false });
    const gets = fake.counts.get;
    for (let i = 0; i < 5; i++) expect(await source.lookup('ghost')).toEqual({ found: false });
    expect(fake.counts.get).toBe(gets);
    // Created later: its ADDED event fills the cache, which is asked before the memory.
    fake.create('ghost', { labels: { 'dns-tuner.io/policy': 'default' } });
    await eventually(async () => expect(await source.lookup('ghost')).toMatchObject({ found: true }));
    // Past the memory, an unknown name is asked again.
    expect(await source.lookup('phantom')).toEqual({ found: false });
    clock += NOT_FOUND_TTL_MS + 1;
    expect(await source.lookup('phantom')).toEqual({ found: false });
    expect(log.directGets.filter((r) => r === 'not-found')).toHaveLength(3);
  });

  it('reports an error when the API is down or too slow for the lookup', async () => {
    const { fake, source, log } = await setup();
    fake.setFault('get', 'reset');
    const reset = await source.lookup('unknown-1');
    expect(reset).toMatchObject({ found: false });
    expect('error' in reset && reset.error).toMatch(/^get namespace "unknown-1": /);

    fake.setFault('get', 'error');
    const failed = await source.lookup('unknown-2');
    expect('error' in failed && failed.error).toMatch(/HTTP 500/);

    fake.setFault('get', { delayMs: 3000 });
    const slow = await source.lookup('unknown-3');
    expect('error' in slow && slow.error).toBe('get namespace "unknown-3": timed out after 300 ms');

    // The caller's own deadline (the admission request's) wins when it is shorter.
    const aborted = await source.lookup('unknown-4', AbortSignal.timeout(30));
    expect(aborted).toEqual({ found: false, error: 'lookup aborted' });
    expect(log.directGets).toEqual(['error', 'error', 'error']);
    await eventually(() => expect(log.directGets).toHaveLength(4)); // the shared GET still finishes on its own
  });

  it('cannot start against an unreachable API, reports why, and rejects start() on stop()', async () => {
    const fake = await startFakeKubeApi();
    const kubeconfig = fake.kubeconfigPath;
    const { log, observer } = recorder();
    const source = createClusterNamespaceSource({ kubeconfig, ...fast, observer });
    await fake.close().catch(() => undefined);
    // The kubeconfig file went with the fake; the KubeConfig was already loaded.
    const started = source.start();
    await eventually(() => expect(log.errors.length).toBeGreaterThanOrEqual(2));
    expect(log.errors[0]).toMatch(/^list: .*ECONNREFUSED/);
    expect(source.status()).toMatchObject({ ready: false });
    expect(source.status().reason).toMatch(/not synced yet \(last error: .*ECONNREFUSED/);
    const miss = await source.lookup('anything');
    expect('error' in miss && miss.error).toMatch(/ECONNREFUSED/);
    await source.stop();
    await expect(started).rejects.toThrow('stopped before the first list completed');
  });
});

describe('cluster namespace source: readiness and lifecycle', () => {
  it('retries the first list until it succeeds', async () => {
    const { fake, source, log } = await setup({}, false);
    fake.setFault('list', 'error');
    const started = source.start();
    await eventually(() => expect(fake.counts.list).toBeGreaterThanOrEqual(3));
    expect(source.status().reason).toMatch(/HTTP 500/);
    fake.setFault('list', 'none');
    await started;
    expect(source.status()).toEqual({ ready: true, size: 4 });
    expect(log.relists.every((r) => r === 'initial')).toBe(true);
  });

  it('is not ready while the cache is stale, and ready again once it has caught up', async () => {
    const { fake, source } = await setup({ staleAfterMs: 300, inactivityTimeoutMs: 200 });
    expect(source.status().ready).toBe(true);
    fake.setFault('watch', 'reset');
    fake.setFault('list', 'error');
    fake.dropWatches();
    await eventually(() => expect(source.status().ready).toBe(false));
    expect(source.status().reason).toMatch(/^namespace cache is stale: no list, watch event or bookmark for \d+ s/);
    expect(source.status().size).toBe(4); // still serving the last known state

    fake.create('while-stale');
    fake.setFault('watch', 'none');
    fake.setFault('list', 'none');
    await eventually(() => expect(source.status()).toEqual({ ready: true, size: 5 }));
  });

  it('uses the kubeconfig credentials (a wrong token never syncs)', async () => {
    const fake = await startFakeKubeApi();
    cleanups.push(() => fake.close());
    const source = createClusterNamespaceSource({ kubeconfig: fake.badTokenKubeconfigPath, ...fast });
    const started = source.start();
    await eventually(() => expect(source.status().reason).toMatch(/list namespaces: HTTP 401: Unauthorized/));
    expect(fake.counts.list).toBe(0);
    expect(fake.counts.unauthorized).toBeGreaterThanOrEqual(1);
    await source.stop();
    await expect(started).rejects.toThrow();
  });

  it('stop() closes the watch and leaves nothing running (the process exits by itself)', async () => {
    const { fake, source } = await setup();
    await eventually(() => expect(fake.openWatches).toBe(1));
    await source.stop();
    await eventually(() => expect(fake.openConnections).toBe(0));
    expect(source.stats().watchesOpen).toBe(0);

    const script = fileURLToPath(new URL('../support/cluster-source-child.ts', import.meta.url));
    const run = spawnNode(script, [], { killAfterMs: 15_000 });
    const { code, signal } = await run.exit;
    const stdout = run.stdout();
    const stderr = run.stderr();
    expect({ code, signal, stderr: stderr.replace(/^\(node:\d+\) .*\n?/gm, '') }).toEqual({
      code: 0,
      signal: null,
      stderr: '',
    });
    const report = JSON.parse(stdout) as { left: string[]; miss: unknown; stats: { watchesOpen: number } };
    expect(report.miss).toMatchObject({ found: false, error: expect.stringMatching(/timed out|aborted/) });
    expect(report.stats.watchesOpen).toBe(0);
    expect(report.left).toEqual([]);
  });
});

describe('cluster namespace source: metrics adapter', () => {
  it('exposes cache size, last event age and counters on the given registry', async () => {
    const registry = new Registry();
    const nsMetrics = createNamespaceMetrics(registry);
    const { log, observer } = recorder();
    const { fake, source } = await setup({ observer: combineObservers(nsMetrics.observer, observer) }, false);
    nsMetrics.track(source);
    await source.start();
    await eventually(() => expect(fake.openWatches).toBe(1));
    fake.create('metered');
    fake.bookmark();
    await eventually(() => expect(source.stats().events.BOOKMARK).toBe(1));
    await source.lookup('absent');

    const text = await registry.metrics();
    const value = (line: string) => {
      const match = text.split('\n').find((l) => l.startsWith(`${line} `));
      expect(match, `${line} in\n${text}`).toBeDefined();
      return Number(match!.slice(line.length + 1));
    };
    expect(value('dns_tuner_namespace_cache_size')).toBe(5);
    expect(value('dns_tuner_namespace_relists_total{reason="initial"}')).toBe(1);
    expect(value('dns_tuner_namespace_direct_gets_total{result="not-found"}')).toBe(1);
    const age = value('dns_tuner_namespace_last_event_age_seconds');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
    // Both observers saw everything.
    expect(log.events).toEqual(['ADDED', 'BOOKMARK']);

    fake.expireWatches();
    await eventually(() => expect(log.synced).toHaveLength(2));
    const after = await registry.metrics();
    expect(after).toContain('dns_tuner_namespace_watch_restarts_total{reason="expired"} 1');
    expect(after).toContain('dns_tuner_namespace_relists_total{reason="expired"} 1');
  });
});

describe('loadKubeConfig', () => {
  async function tempDir() {
    const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-test-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  const config = (server: string, cluster: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster, cluster: { server, ...extra } }],
      users: [{ name: cluster, user: { token: 't' } }],
      contexts: [{ name: cluster, context: { cluster, user: cluster } }],
      'current-context': cluster,
    });

  it('takes --kubeconfig first, then KUBECONFIG (a merged path list: the first file wins)', async () => {
    const dir = await tempDir();
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    await writeFile(first, config('https://first.example:6443', 'shared'));
    await writeFile(
      second,
      JSON.stringify({
        ...JSON.parse(config('https://second.example:6443', 'shared')),
        clusters: [
          { name: 'shared', cluster: { server: 'https://second.example:6443' } },
          { name: 'extra', cluster: { server: 'https://extra.example:6443' } },
        ],
        contexts: [
          { name: 'shared', context: { cluster: 'shared', user: 'shared' } },
          { name: 'other', context: { cluster: 'extra', user: 'shared' } },
        ],
        'current-context': 'other',
      }),
    );
    const env = { HOME: dir, KUBECONFIG: second };
    expect(loadKubeConfig({ kubeconfig: first, env }).getCurrentCluster()?.server).toBe('https://first.example:6443');
    expect(loadKubeConfig({ env }).getCurrentCluster()?.server).toBe('https://extra.example:6443');

    const merged = loadKubeConfig({ env: { HOME: dir, KUBECONFIG: [first, second].join(delimiter) } });
    expect(merged.getCurrentContext()).toBe('shared');
    expect(merged.getCurrentCluster()?.server).toBe('https://first.example:6443');
    expect(merged.getClusters().map((c) => c.name)).toEqual(['shared', 'extra']);
  });

  it('uses the in-cluster service account when there is no kubeconfig, and says what is missing', async () => {
    const dir = await tempDir();
    const env = { HOME: dir, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(() => loadKubeConfig({ inClusterPathPrefix: dir, env })).toThrow(
      new KubeConfigError(
        `in-cluster configuration: ${dir}/var/run/secrets/kubernetes.io/serviceaccount/token is missing (automountServiceAccountToken: false?)`,
      ),
    );
    const sa = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'sa-token');
    const kc = loadKubeConfig({ inClusterPathPrefix: dir, env });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://10.96.0.1:443', caFile: `${sa}/ca.crt` });
    expect(kc.getCurrentUser()).toMatchObject({ authProvider: { config: { tokenFile: `${sa}/token` } } });
    // An IPv6 service host is bracketed, as client-go's net.JoinHostPort does.
    const v6 = loadKubeConfig({ inClusterPathPrefix: dir, env: { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' } });
    expect(v6.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
  });

  it('falls back to ~/.kube/config, and refuses to guess beyond it', async () => {
    const dir = await tempDir();
    const env = { HOME: dir };
    expect(() => loadKubeConfig({ env })).toThrow(
      new KubeConfigError('no Kubernetes client configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster'),
    );
    await mkdir(join(dir, '.kube'));
    await writeFile(join(dir, '.kube', 'config'), config('https://home.example:6443', 'home'));
    expect(loadKubeConfig({ env }).getCurrentCluster()?.server).toBe('https://home.example:6443');
  });

  it('names the file and the problem', async () => {
    const dir = await tempDir();
    const env = { HOME: dir };
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'nope'), env })).toThrow(
      new KubeConfigError(`kubeconfig ${join(dir, 'nope')} (--kubeconfig): not found`),
    );
    const plain = join(dir, 'plain');
    await writeFile(plain, config('http://127.0.0.1:8080', 'plain'));
    expect(() => loadKubeConfig({ kubeconfig: plain, env })).toThrow(/plain http needs insecure-skip-tls-verify: true/);
    const dangling = join(dir, 'dangling');
    await writeFile(dangling, JSON.stringify({ ...JSON.parse(config('https://x:1', 'x')), 'current-context': 'y' }));
    expect(() => loadKubeConfig({ kubeconfig: dangling, env })).toThrow(/current context "y" names no known cluster/);
  });

  it('skips missing files in a KUBECONFIG list like kubectl, but not when none exists', async () => {
    const dir = await tempDir();
    const real = join(dir, 'real');
    await writeFile(real, config('https://listed.example:6443', 'listed'));
    const listed = { HOME: dir, KUBECONFIG: [join(dir, 'missing-1'), real].join(delimiter) };
    expect(loadKubeConfig({ env: listed }).getCurrentCluster()?.server).toBe('https://listed.example:6443');
    const none = { HOME: dir, KUBECONFIG: [join(dir, 'missing-1'), join(dir, 'missing-2')].join(delimiter) };
    expect(() => loadKubeConfig({ env: none })).toThrow(/none of the files in KUBECONFIG exists/);
  });

  it('feeds the source from $KUBECONFIG in the environment it is given when no path is given', async () => {
    const fake = await startFakeKubeApi();
    cleanups.push(() => fake.close());
    const source = createClusterNamespaceSource({ ...fast, env: { KUBECONFIG: fake.kubeconfigPath } });
    cleanups.push(() => source.stop());
    await source.start();
    expect(source.status()).toEqual({ ready: true, size: 4 });
  });
});
