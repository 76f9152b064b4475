/**
 * Run as a child process by test/namespaces/cluster-source.test.ts: exercises the cluster source against the fake
 * apiserver (sync, events, a dropped watch, a direct GET that times out), stops both, then prints the handles still
 * alive and lets the process exit by itself. A leaked timer or socket keeps it alive, and the parent sees that.
 */

import { startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { createClusterNamespaceSource } from '../../src/namespaces/cluster-source.ts';

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('child: condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const fake = await startFakeKubeApi();
const source = createClusterNamespaceSource({
  kubeconfig: fake.kubeconfigPath,
  inactivityTimeoutMs: 2000,
  backoffInitialMs: 10,
  backoffMaxMs: 50,
  relistIntervalMs: 60_000,
  directGetTimeoutMs: 100,
});
await source.start();
fake.create('child-a');
await until(() => source.stats().events.ADDED >= 1);
fake.dropWatches();
await until(() => fake.counts.watch >= 2 && source.stats().watchesOpen === 1);
fake.setFault('get', 'hang');
const miss = await source.lookup('not-there');
await source.stop();
await fake.close();
const left = process
  .getActiveResourcesInfo()
  .filter((r) => r === 'Timeout' || r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Immediate');
process.stdout.write(`${JSON.stringify({ left, miss, stats: source.stats() })}\n`);
