/**
 * Live configuration reload: dns-tuner runs in-process over real HTTPS with its config in a directory laid out and
 * updated like a mounted ConfigMap (`..data` symlink swapped to a new timestamped directory). Reviews must follow a
 * valid new config, ignore an invalid one (last good stays, failure counted and logged) and follow the next valid one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, scrape } from '../../lab/client.ts';
import { eventually } from '../../lab/eventually.ts';
import { EXAMPLE_NAMESPACES } from '../../lab/paths.ts';
import { type AtomicVolume, atomicVolume } from '../../lab/volume.ts';
import { type InProcess, ndotsAfter, postReview, startInProcess } from '../support/live.ts';
import { writeServingFiles } from '../support/webhook.ts';

const config = (ndots: number) => `
clusterDNS: 10.96.0.10
nodeLocalDNS: 169.254.20.10
mode: enforce
policies:
  default:
    ndots: ${ndots}
    nodeLocal: true
    fallback: true
`;

let dir: string;
let ca: string;
let volume: AtomicVolume;
let running: InProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-config-reload-'));
  const tls = await writeServingFiles(dir);
  ca = tls.ca.cert;
  volume = await atomicVolume(join(dir, 'config'), { 'config.yaml': config(3) });
  running = await startInProcess([
    '--config',
    volume.path('config.yaml'),
    '--namespaces',
    EXAMPLE_NAMESPACES,
    ...tls.flags,
  ]);
});

afterAll(async () => {
  await running?.app.stop(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** ndots of a pod created in `shop` (policy `default`) right now. */
async function ndotsNow(): Promise<string | undefined> {
  const result = await postReview(running.app.webhookPort, 'shop', { ca });
  expect(result.status).toBe(200);
  return ndotsAfter('shop', result);
}

const reloads = async (result: 'ok' | 'failed') =>
  metricValue(await scrape(running.app.opsPort), 'dns_tuner_config_reloads_total', `result="${result}"`);

describe('config reload through a ConfigMap-style ..data swap', () => {
  it('follows a valid config, keeps the last good one over an invalid config, then follows the next valid one', async () => {
    expect(await ndotsNow()).toBe('3');
    expect(await reloads('ok')).toBe(0);
    expect(await reloads('failed')).toBe(0);
    const startedAt = metricValue(
      await scrape(running.app.opsPort),
      'dns_tuner_config_last_reload_success_timestamp_seconds',
    );
    expect(startedAt).toBeGreaterThan(0);

    await volume.write({ 'config.yaml': config(2) });
    await eventually(async () => expect(await ndotsNow()).toBe('2'));
    expect(await reloads('ok')).toBe(1);
    expect(running.logged('configuration reloaded')).toHaveLength(1);

    // ndots above 15 is refused by the schema: the file is rejected, the pods keep getting ndots 2.
    await volume.write({ 'config.yaml': config(99) });
    await eventually(async () => expect(await reloads('failed')).toBe(1));
    expect(await ndotsNow()).toBe('2');
    const rejected = running.logged('configuration file rejected, the last good configuration stays in force');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.error).toMatch(/config\.yaml:\d+:\d+: policies\.default\.ndots/);
    const metrics = await scrape(running.app.opsPort);
    expect(metricValue(metrics, 'dns_tuner_config_last_reload_successful')).toBe(0);
    expect(metricValue(metrics, 'dns_tuner_config_reloads_total', 'result="ok"')).toBe(1);

    // The same bad content polled again is not rejected again (one failure per distinct file).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await reloads('failed')).toBe(1);

    await volume.write({ 'config.yaml': config(4) });
    await eventually(async () => expect(await ndotsNow()).toBe('4'));
    const after = await scrape(running.app.opsPort);
    expect(metricValue(after, 'dns_tuner_config_reloads_total', 'result="ok"')).toBe(2);
    expect(metricValue(after, 'dns_tuner_config_reloads_total', 'result="failed"')).toBe(1);
    expect(metricValue(after, 'dns_tuner_config_last_reload_successful')).toBe(1);
    expect(metricValue(after, 'dns_tuner_config_last_reload_success_timestamp_seconds')).toBeGreaterThanOrEqual(
      startedAt ?? Number.POSITIVE_INFINITY,
    );
  });

  it('keeps the last good config when the file disappears from the volume', async () => {
    // Each test sets the state it starts from, so it does not depend on the one before.
    await volume.write({ 'config.yaml': config(4) });
    await eventually(async () => expect(await ndotsNow()).toBe('4'));
    const failed = (await reloads('failed')) ?? 0;
    await volume.write({ 'other.yaml': 'x: 1\n' });
    await eventually(async () => expect(await reloads('failed')).toBe(failed + 1));
    expect(await ndotsNow()).toBe('4');
    expect(
      running.logged('configuration file rejected, the last good configuration stays in force').at(-1)?.error,
    ).toMatch(/config\.yaml: not found/);
    await volume.write({ 'config.yaml': config(5) });
    await eventually(async () => expect(await ndotsNow()).toBe('5'));
  });

  it('rejects and counts a file the parser accepts but toJS cannot turn into values (an alias to no anchor)', async () => {
    await volume.write({ 'config.yaml': config(5) });
    await eventually(async () => expect(await ndotsNow()).toBe('5'));
    const failed = (await reloads('failed')) ?? 0;
    const ok = (await reloads('ok')) ?? 0;
    await volume.write({ 'config.yaml': `${config(6)}clusterDomain: *nope\n` });
    await eventually(async () => expect(await reloads('failed')).toBe(failed + 1));
    expect(await ndotsNow()).toBe('5');
    expect(await reloads('ok')).toBe(ok);
    expect(
      running.logged('configuration file rejected, the last good configuration stays in force').at(-1)?.error,
    ).toMatch(/^invalid config .*config\.yaml:\d+:16: YAML error: Unresolved alias .*: nope$/);
    await volume.write({ 'config.yaml': config(6) });
    await eventually(async () => expect(await ndotsNow()).toBe('6'));
  });

  it('warns when a reload removes a policy namespaces still select, naming them', async () => {
    const withOptionsOnly = `${config(7)}  options-only:\n    ndots: 2\n`;
    await volume.write({ 'config.yaml': withOptionsOnly });
    await eventually(async () => expect(await ndotsNow()).toBe('7'));
    const warning =
      'the new configuration removes policies that namespaces still select; their pods are left alone (unknown-policy)';
    expect(running.logged(warning)).toEqual([]);
    await volume.write({ 'config.yaml': config(7) });
    await eventually(() => expect(running.logged(warning)).toHaveLength(1));
    expect(running.logged(warning)[0]).toMatchObject({
      removedPolicies: ['options-only'],
      namespaces: ['payments'],
      namespaceCount: 1,
    });
  });
});
