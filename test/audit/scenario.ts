/**
 * The cluster `dns-tuner audit` is tested against, in the fake Kubernetes API: a namespace opted in after some of its
 * pods were created (untuned), pods tuned under the example config (tuned) and under an older policy (stale), pods
 * the webhook skips (opt-out annotation, host network, Windows, a static pod, dry-run mode, a namespace not opted in),
 * a namespace that opted out after its pods were tuned, kube-system labelled (never sent to the webhook), and owners
 * of every kind the audit follows.
 */
import { clusterBuilder } from '../../lab/audit-cluster.ts';
import type { FakeKubeApi } from '../../lab/fake-kube-api.ts';
import { LABEL_POLICY } from '../../src/core/types.ts';
import { configFrom, exampleConfig } from '../support/engine.ts';

/** What `default` was before: options only, kubelet's ndots 5. Pods tuned under it are stale now. */
export const OLD_CONFIG = configFrom({
  clusterDNS: '10.96.0.10',
  policies: { default: { ndots: 5, options: ['single-request-reopen'], nodeLocal: false } },
});

export const OPTED_IN = { [LABEL_POLICY]: 'default' };

export function buildScenario(api: FakeKubeApi): void {
  const config = exampleConfig();
  const b = clusterBuilder(api, { config });
  b.namespace('shop', OPTED_IN);
  b.namespace('legacy');
  b.namespace('trial', OPTED_IN, { 'dns-tuner.io/mode': 'dry-run' });

  // shop: opted in after web, exporter, report, migrate, debug, lonely, cache, paused and the rollout were created.
  b.deployment('shop', 'web', {}, ['created', 'created', 'admitted']);
  b.deployment('shop', 'api', {}, ['admitted', 'admitted']);
  b.deployment('shop', 'paused', {}, ['created'], { paused: true });
  b.statefulSet('shop', 'db', {}, [{ admitted: OLD_CONFIG }, { admitted: OLD_CONFIG }]);
  b.statefulSet('shop', 'cache', {}, ['created'], { updateStrategy: { type: 'OnDelete' } });
  b.daemonSet('shop', 'agent', { spec: { hostNetwork: true } }, ['created', 'created']);
  b.daemonSet('shop', 'exporter', { spec: { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } }, ['created']);
  b.cronJob('shop', 'report', {}, ['created']);
  b.job('shop', 'migrate', {}, ['created', 'succeeded', 'failed']);
  b.replicaSet('shop', 'lonely', {}, ['created']);
  b.pod('shop', 'debug', {}, 'created');
  b.pod('shop', 'debug-tuned', {}, 'admitted');
  b.deployment('shop', 'worker', { annotations: { 'dns-tuner.io/skip': 'true' } }, ['created']);
  b.deployment('shop', 'win', { spec: { nodeSelector: { 'kubernetes.io/os': 'windows' } } }, ['created']);
  b.staticPod('shop', 'etcd', 'node-1', {});
  b.ownedPod(
    'shop',
    'canary-7f9c',
    { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'canary' },
    {},
    'created',
  );

  // legacy: never opted in; was-tuned's pods were tuned while it was, then the label went.
  b.deployment('legacy', 'old', {}, ['created']);
  b.deployment('legacy', 'was-tuned', {}, [
    { admitted: config, namespace: { name: 'legacy', labels: OPTED_IN, annotations: {} } },
  ]);

  // trial: opted in, in dry-run mode: nothing is tuned, so nothing would change on a rollout.
  b.deployment('trial', 'probe', {}, ['created']);

  // kube-system, labelled by mistake: the webhook's registration never sends its pods.
  api.setLabel('kube-system', LABEL_POLICY, 'default');
  b.deployment('kube-system', 'coredns', {}, ['created']);
}
