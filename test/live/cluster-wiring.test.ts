/**
 * The cluster namespace source wired into dns-tuner, against the fake API server (test/support/fake-kube-api.ts,
 * the real list/watch wire protocol): not ready until the first list is in, reviews follow namespace labels as they
 * change, and the metrics an operator watches (cache size, relists, watch restarts, last event age) are exposed.
 * Also the built binary with `$KUBECONFIG` as a path list, which the flag parser reports as --kubeconfig's value.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, readyz, scrape } from '../../lab/client.ts';
import { eventually } from '../../lab/eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { EXAMPLE_CONFIG } from '../../lab/paths.ts';
import type { Ca } from '../../lab/pki.ts';
import {
  isolatedEnv,
  loopbackPorts,
  MAIN,
  requireBuilt,
  spawnNode,
  spawnStartScript,
  waitForLog,
} from '../../lab/process.ts';
import { responseOf } from '../../lab/review.ts';
import { type InProcess, ndotsAfter, postReview, startInProcess } from '../support/live.ts';
import { writeServingFiles } from '../support/webhook.ts';

const POLICY = 'dns-tuner.io/policy';

let dir: string;
let ca: Ca;
let tlsArgs: string[];
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-cluster-wiring-'));
  const tls = await writeServingFiles(dir);
  ca = tls.ca;
  tlsArgs = [...tls.flags, '--config', EXAMPLE_CONFIG];
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function fakeApi(): Promise<FakeKubeApi> {
  const fake = await startFakeKubeApi();
  cleanups.push(() => fake.close());
  fake.create('shop', { labels: { [POLICY]: 'default' } });
  fake.create('legacy');
  return fake;
}

/** Whether a pod created in `namespace` now gets a patch. */
async function mutated(port: number, namespace: string): Promise<boolean> {
  const result = await postReview(port, namespace, { ca: ca.cert });
  expect(result.status).toBe(200);
  return responseOf(result.body).patch !== undefined;
}

describe('cluster namespace source wired into dns-tuner', () => {
  it('is not ready before the first list, then follows namespace labels and reports cache metrics', async () => {
    const fake = await fakeApi();
    // A slow first list, so "not ready yet" can be seen.
    fake.setFault('list', { delayMs: 1500 });
    const running: InProcess = await startInProcess(['--kubeconfig', fake.kubeconfigPath, ...tlsArgs]);
    cleanups.push(() => running.app.stop(0));
    const { webhookPort: port, opsPort } = running.app;

    const before = await readyz(opsPort);
    expect(before.status).toBe(503);
    // The cluster facts list through the same slow API server.
    expect(before.failing.map((f) => f.name)).toEqual(['namespaces', 'cluster-facts']);
    expect(before.failing[0]?.reason).toMatch(/not synced/);
    expect(before.failing[1]?.reason).toMatch(/kube-dns Service kube-system\/kube-dns cache has not synced yet/);
    expect(metricValue(await scrape(opsPort), 'dns_tuner_namespace_last_event_age_seconds')).toBe(
      Number.POSITIVE_INFINITY,
    );
    fake.setFault('list', 'none');

    await running.app.synced;
    const after = await readyz(opsPort);
    expect(after.status, JSON.stringify(after.failing)).toBe(200);
    const shop = await postReview(port, 'shop', { ca: ca.cert });
    expect(ndotsAfter('shop', shop)).toBe('3');
    expect(await mutated(port, 'legacy')).toBe(false);

    // Relabel: the watch brings the change, no restart needed.
    fake.setLabel('legacy', POLICY, 'default');
    await eventually(async () => expect(await mutated(port, 'legacy')).toBe(true));
    fake.setLabel('shop', POLICY, undefined);
    await eventually(async () => expect(await mutated(port, 'shop')).toBe(false));
    fake.create('new-team', { labels: { [POLICY]: 'default' } });
    await eventually(async () =>
      expect(metricValue(await scrape(opsPort), 'dns_tuner_namespace_cache_size')).toBe(fake.names().length),
    );
    expect(fake.counts.get).toBe(0);

    // The watch cache falls out of its window: the source relists, and says so.
    fake.expireWatches();
    await eventually(async () =>
      expect(
        metricValue(await scrape(opsPort), 'dns_tuner_namespace_relists_total', 'reason="expired"'),
      ).toBeGreaterThanOrEqual(1),
    );
    const metrics = await scrape(opsPort);
    expect(metricValue(metrics, 'dns_tuner_namespace_relists_total', 'reason="initial"')).toBe(1);
    expect(metricValue(metrics, 'dns_tuner_namespace_watch_restarts_total', 'reason="expired"')).toBeGreaterThanOrEqual(
      1,
    );
    expect(metricValue(metrics, 'dns_tuner_namespace_cache_size')).toBe(7);
    const age = metricValue(metrics, 'dns_tuner_namespace_last_event_age_seconds');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(60);
    expect(await mutated(port, 'legacy')).toBe(true);

    const synced = running.logged('namespace cache synced');
    expect(synced.map((l) => l.reason)).toEqual(expect.arrayContaining(['initial', 'expired']));
    expect(running.logged('namespace watch restarted').map((l) => l.reason)).toContain('expired');
    expect((await readyz(opsPort)).status).toBe(200);
  });

  it('the built binary takes $KUBECONFIG as a path list (the loader merges it; it is not one file)', async () => {
    requireBuilt(MAIN);
    const fake = await fakeApi();
    // A second file with other names: kubectl-style merging keeps the first file's current-context.
    const other = join(dir, 'other-kubeconfig');
    await writeFile(
      other,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'other', cluster: { server: 'https://192.0.2.1:6443' } }],
        users: [{ name: 'other', user: { token: 'other' } }],
        contexts: [{ name: 'other', context: { cluster: 'other', user: 'other' } }],
      }),
    );
    const run = spawnNode(MAIN, [...tlsArgs, ...loopbackPorts()], {
      env: isolatedEnv({ HOME: dir, KUBECONFIG: [fake.kubeconfigPath, other].join(delimiter) }),
    });
    cleanups.push(() => run.stop());
    const listening = await waitForLog(run, 'listening');
    await eventually(async () => expect((await readyz(listening.opsPort as number)).status).toBe(200));
    expect(await mutated(listening.port as number, 'shop')).toBe(true);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    expect(fake.counts.unauthorized).toBe(0);
  });

  it('`npm start -- --kubeconfig FILE` watches that cluster, although the script names the example namespace file', async () => {
    requireBuilt(MAIN);
    const fake = await fakeApi();
    // `legacy` is not opted in on the fake cluster; in examples/namespaces.yaml it does not exist either, and `shop`
    // is opted in in both. A namespace only the fake cluster has tells which source answered.
    fake.create('only-in-cluster', { labels: { [POLICY]: 'default' } });
    const tls = tlsArgs.filter((a, i) => a !== '--config' && tlsArgs[i - 1] !== '--config');
    const run = spawnStartScript(['--kubeconfig', fake.kubeconfigPath, ...tls, ...loopbackPorts()], {
      env: isolatedEnv({ HOME: dir }),
    });
    cleanups.push(() => run.stop());
    const listening = await waitForLog(run, 'listening');
    expect(listening.namespaceSource).toBe('cluster');
    await eventually(async () => expect((await readyz(listening.opsPort as number)).status).toBe(200));
    expect(fake.counts.list).toBeGreaterThanOrEqual(1);
    expect(await mutated(listening.port as number, 'only-in-cluster')).toBe(true);
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
  });

  it('`npm start` alone reads the example files; --namespaces and --kubeconfig both as flags is an error naming both', async () => {
    requireBuilt(MAIN);
    const tls = tlsArgs.filter((a, i) => a !== '--config' && tlsArgs[i - 1] !== '--config');
    const plain = spawnStartScript([...tls, ...loopbackPorts()], { env: isolatedEnv({ HOME: dir }) });
    cleanups.push(() => plain.stop());
    expect((await waitForLog(plain, 'listening')).namespaceSource).toBe('file');
    expect(await mutated((await waitForLog(plain, 'listening')).port as number, 'shop')).toBe(true);
    plain.child.kill('SIGTERM');
    expect((await plain.exit).code).toBe(0);

    const both = spawnStartScript(
      ['--namespaces', 'examples/namespaces.yaml', '--kubeconfig', join(dir, 'none'), ...tls, ...loopbackPorts()],
      { env: isolatedEnv({ HOME: dir }), killAfterMs: 20_000 },
    );
    cleanups.push(() => both.stop());
    expect((await both.exit).code).toBe(1);
    expect(both.stderr()).toContain('--namespaces and --kubeconfig both choose the namespace source; give only one');
  });
});
