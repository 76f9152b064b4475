/**
 * The audit's pure parts: when two pods have the same DNS, which state a pod is in, what a workload keeps (bounded),
 * how a tuned pod is taken back to the pod it was created as, and the rollout advice per kind.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../lab/paths.ts';
import { dnsKey, dnsView, sameDns } from '../../src/audit/dns.ts';
import { rolloutAdvice, workloadName } from '../../src/audit/rollout.ts';
import {
  EXCLUDED_NAMESPACES,
  MAX_EXAMPLES,
  MAX_VARIANTS,
  type PodFinding,
  podState,
  WorkloadTally,
} from '../../src/audit/tally.ts';
import { createdPod, type Verdict } from '../../src/audit/verdict.ts';
import { clusterView, resolveConfig } from '../../src/core/cluster-rules.ts';
import type { PodDns } from '../../src/core/types.ts';
import { resolvContext } from '../../src/dryrun/report.ts';
import { exampleConfig } from '../support/engine.ts';

const CLUSTER_FIRST: PodDns = { dnsPolicy: 'ClusterFirst' };
const TUNED: PodDns = {
  dnsPolicy: 'None',
  dnsConfig: {
    nameservers: ['169.254.20.10', '10.96.0.10'],
    searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
    options: [{ name: 'ndots', value: '3' }, { name: 'single-request-reopen' }],
  },
};

function verdict(decision: Verdict['decision'], wouldBe: PodDns | undefined, reason = 'policy-applied'): Verdict {
  return { decision, reason, policy: 'default', detail: undefined, wouldBe, hostNetwork: false, basis: 'template' };
}

function finding(current: PodDns | undefined, applied?: string, name = 'web-1'): PodFinding {
  return { name, current, hostNetwork: false, applied };
}

describe('the same DNS', () => {
  it('options by name, the last value winning, in any order; nameservers and searches in order', () => {
    const a: PodDns = {
      dnsPolicy: 'ClusterFirst',
      dnsConfig: { options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] },
    };
    const b: PodDns = {
      dnsPolicy: 'ClusterFirst',
      dnsConfig: { options: [{ name: 'rotate' }, { name: 'ndots', value: '5' }, { name: 'ndots', value: '2' }] },
    };
    expect(sameDns(a, b)).toBe(true);
    expect(sameDns(a, { ...a, dnsConfig: { options: [{ name: 'ndots', value: '3' }, { name: 'rotate' }] } })).toBe(
      false,
    );
    const ns = (...nameservers: string[]): PodDns => ({ dnsPolicy: 'None', dnsConfig: { nameservers } });
    expect(sameDns(ns('10.0.0.1', '10.0.0.2'), ns('10.0.0.2', '10.0.0.1'))).toBe(false);
    // An empty dnsConfig is no dnsConfig; the policy always counts.
    expect(dnsKey({ dnsPolicy: 'ClusterFirst', dnsConfig: {} })).toBe(dnsKey(CLUSTER_FIRST));
    expect(sameDns(CLUSTER_FIRST, { dnsPolicy: 'ClusterFirstWithHostNet' })).toBe(false);
  });

  it('shows the ndots the resolver ends up with: kubelet 5, resolvers 1 under None, unknown on the node resolver', () => {
    const config = exampleConfig();
    const ctx = resolvContext(resolveConfig(config, clusterView(config, undefined)), 'shop');
    expect(dnsView(CLUSTER_FIRST, false, ctx).ndots).toBe(5);
    expect(dnsView(TUNED, false, ctx).ndots).toBe(3);
    expect(dnsView({ dnsPolicy: 'None', dnsConfig: { nameservers: ['10.0.0.1'] } }, false, ctx).ndots).toBe(1);
    expect(dnsView({ dnsPolicy: 'Default' }, false, ctx).ndots).toBeNull();
    expect(dnsView(CLUSTER_FIRST, true, ctx).ndots).toBeNull();
    expect(
      dnsView({ dnsPolicy: 'Default', dnsConfig: { options: [{ name: 'ndots', value: '2' }] } }, false, ctx).ndots,
    ).toBe(2);
  });
});

describe('a pod state', () => {
  it.each([
    ['mutated', TUNED, TUNED, undefined, 'tuned'],
    ['unchanged', TUNED, TUNED, 'default: …', 'tuned'],
    ['mutated', TUNED, CLUSTER_FIRST, undefined, 'untuned'],
    [
      'mutated',
      TUNED,
      { dnsPolicy: 'ClusterFirst', dnsConfig: { options: [{ name: 'ndots', value: '5' }] } },
      'default: old',
      'stale',
    ],
    ['skipped', CLUSTER_FIRST, CLUSTER_FIRST, undefined, 'skipped'],
    // Tuned, and the webhook now leaves such pods alone: a rollout takes the tuning back.
    ['skipped', CLUSTER_FIRST, TUNED, 'default: …', 'stale'],
    // Different from its template, but not because of the webhook: not ours to report.
    ['skipped', CLUSTER_FIRST, { dnsPolicy: 'Default' }, undefined, 'skipped'],
    ['dry-run', CLUSTER_FIRST, CLUSTER_FIRST, undefined, 'skipped'],
    ['error', CLUSTER_FIRST, CLUSTER_FIRST, undefined, 'skipped'],
  ] as const)('%s, would be %j, is %j, applied %j → %s', (decision, wouldBe, current, applied, state) => {
    expect(podState(verdict(decision, wouldBe as PodDns), finding(current as PodDns, applied))).toBe(state);
  });

  it('is skipped when there is nothing to compare', () => {
    expect(podState(verdict('skipped', undefined, 'invalid-pod'), finding(CLUSTER_FIRST, 'default: …'))).toBe(
      'skipped',
    );
    expect(podState(verdict('mutated', TUNED), finding(undefined))).toBe('skipped');
  });
});

describe('a workload tally', () => {
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' };

  it('keeps a few examples (affected ones first) and a few DNS variants, counting the rest', () => {
    const tally = new WorkloadTally(ref, verdict('mutated', TUNED), undefined);
    for (let i = 0; i < 1000; i++) {
      const current: PodDns = {
        dnsPolicy: 'ClusterFirst',
        dnsConfig: { options: [{ name: 'x', value: String(i % 10) }] },
      };
      tally.add(
        finding(i < 500 ? TUNED : current, undefined, `web-${i}`),
        i < 500 ? 'tuned' : 'untuned',
        verdict('mutated', TUNED),
      );
    }
    expect(tally.examples).toEqual(['web-500', 'web-501', 'web-502']);
    expect(tally.examples.length).toBe(MAX_EXAMPLES);
    expect(tally.variants.size).toBe(MAX_VARIANTS);
    const kept = [...tally.variants.values()].reduce((sum, v) => sum + v.pods, 0);
    expect(kept + tally.otherVariantPods).toBe(1000);
    expect(tally.counts).toEqual({ untuned: 500, stale: 0, tuned: 500, skipped: 0 });
    expect(tally.state).toBe('untuned');
    // "Now" is the most common DNS among the pods a rollout changes, not the tuned majority.
    expect(tally.representative()?.dns).not.toEqual(TUNED);
    expect(tally.representative()?.affected).toBe(50);
  });

  it('takes its state from its most pressing pod', () => {
    const tally = new WorkloadTally(ref, verdict('mutated', TUNED), undefined);
    tally.add(finding(TUNED), 'tuned', verdict('mutated', TUNED));
    expect(tally.state).toBe('tuned');
    tally.add(finding(CLUSTER_FIRST, 'default: old'), 'stale', verdict('mutated', TUNED));
    expect(tally.state).toBe('stale');
    expect(tally.tunedAs).toBe('default: old');
    tally.add(finding(CLUSTER_FIRST), 'untuned', verdict('mutated', TUNED));
    expect(tally.state).toBe('untuned');
  });
});

describe('the pod as it was created', () => {
  const tunedPod = {
    metadata: { name: 'debug', namespace: 'shop', annotations: { 'dns-tuner.io/applied': 'default: …', team: 'a' } },
    spec: { containers: [{ name: 'c' }], dnsPolicy: 'None', dnsConfig: TUNED.dnsConfig },
  };

  it('is the pod itself when dns-tuner did not touch it (DNS fields are immutable)', () => {
    const pod = { metadata: { name: 'debug' }, spec: { dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'] } } };
    expect(createdPod(pod)).toEqual({ object: pod, reconstructed: false });
  });

  it('takes back what dns-tuner changed: dnsPolicy, dnsConfig and its annotation, nothing else', () => {
    const copy = structuredClone(tunedPod);
    const { object, reconstructed } = createdPod(tunedPod);
    expect(reconstructed).toBe(true);
    expect(object).toEqual({
      metadata: { name: 'debug', namespace: 'shop', annotations: { team: 'a' } },
      spec: { containers: [{ name: 'c' }], dnsPolicy: 'ClusterFirst' },
    });
    expect(tunedPod).toEqual(copy);
    const hostNet = createdPod({ ...tunedPod, spec: { ...tunedPod.spec, hostNetwork: true } });
    expect((hostNet.object.spec as { dnsPolicy: string }).dnsPolicy).toBe('ClusterFirstWithHostNet');
    const optionsOnly = createdPod({ ...tunedPod, spec: { dnsPolicy: 'ClusterFirst', dnsConfig: { options: [] } } });
    expect(optionsOnly.object.spec).toEqual({ dnsPolicy: 'ClusterFirst' });
  });
});

describe('rollout advice', () => {
  const at = (kind: string, apiVersion: string, name = 'x') => ({ kind, apiVersion, name, namespace: 'ns' });

  it('restarts what kubectl rollout restarts, with the caveats that stop a restart from rolling', () => {
    expect(rolloutAdvice(at('Deployment', 'apps/v1'), undefined)).toEqual({
      command: 'kubectl rollout restart deployment/x -n ns',
      note: null,
    });
    const paused = { paused: true, updateStrategy: undefined, matchLabels: undefined };
    expect(rolloutAdvice(at('Deployment', 'apps/v1'), paused).note).toMatch(/paused/);
    const onDelete = { paused: false, updateStrategy: 'OnDelete', matchLabels: undefined };
    expect(rolloutAdvice(at('DaemonSet', 'apps/v1'), onDelete).note).toMatch(/OnDelete/);
    expect(rolloutAdvice(at('StatefulSet', 'apps/v1'), undefined).command).toBe(
      'kubectl rollout restart statefulset/x -n ns',
    );
  });

  it('deletes what nothing restarts, and says when there is no command to give', () => {
    const labels = { paused: false, updateStrategy: undefined, matchLabels: { app: 'x', tier: 'web' } };
    expect(rolloutAdvice(at('ReplicaSet', 'apps/v1'), labels).command).toBe(
      'kubectl delete pod -n ns -l app=x,tier=web',
    );
    expect(rolloutAdvice(at('ReplicaSet', 'apps/v1'), undefined).command).toBeNull();
    expect(rolloutAdvice(at('Pod', 'v1'), undefined).command).toBe('kubectl delete pod x -n ns');
    expect(rolloutAdvice(at('Job', 'batch/v1'), undefined).command).toBeNull();
    expect(rolloutAdvice(at('CronJob', 'batch/v1'), undefined).command).toBeNull();
    // A Deployment of another API group is not one kubectl restarts.
    expect(rolloutAdvice(at('Deployment', 'example.com/v1'), undefined)).toEqual({
      command: null,
      note: 'restart it through its owner Deployment x (example.com/v1)',
    });
  });

  it('names workloads as kubectl does', () => {
    expect(workloadName(at('Deployment', 'apps/v1', 'web'))).toBe('deployment/web');
    expect(workloadName(at('Rollout', 'argoproj.io/v1alpha1', 'web'))).toBe('rollout.argoproj.io/web');
    expect(workloadName(at('ReplicationController', 'v1', 'web'))).toBe('replicationcontroller/web');
  });
});

describe('namespaces the webhook is never called for', () => {
  it('are those the shipped registration leaves out', () => {
    const registration = parse(readFileSync(join(ROOT, 'manifests', 'base', 'webhook.yaml'), 'utf8')) as {
      webhooks: Array<{
        namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> };
      }>;
    };
    const notIn = registration.webhooks[0]!.namespaceSelector.matchExpressions.find(
      (e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn',
    );
    expect([...EXCLUDED_NAMESPACES].sort()).toEqual([...(notIn?.values ?? [])].sort());
  });
});
