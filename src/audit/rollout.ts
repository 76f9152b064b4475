/**
 * How to give a workload's running pods the DNS a pod created now gets: only new pods change (DNS fields are
 * immutable), so the answer is whatever makes the controller create them again — a rollout restart where one
 * exists (https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_restart/), and
 * otherwise what to delete or wait for. Static pods are never advised on: they are always `skipped`.
 */
import type { RolloutFacts } from '../kube/workloads.ts';
import type { WorkloadRef } from './tally.ts';

export interface RolloutAdvice {
  /** A command to paste, or null when there is none to give (a Job runs to completion; an owner of another kind). */
  command: string | null;
  /** What to know before running it, or what to do instead. */
  note: string | null;
}

/** Kinds `kubectl rollout restart` restarts. */
const RESTARTABLE: Readonly<Record<string, string>> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
};

/** The kinds the audit reads templates of, by apiVersion: others are owners it only names. */
export const KNOWN_KINDS: Readonly<Record<string, string>> = {
  ...RESTARTABLE,
  ReplicaSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Pod: 'v1',
};

export function isKnownKind(ref: { apiVersion: string; kind: string }): boolean {
  return KNOWN_KINDS[ref.kind] === ref.apiVersion;
}

/** `deployment/web`, or `rollout.argoproj.io/web` for a kind outside the built-in groups (kubectl's spelling). */
export function workloadName(ref: { apiVersion: string; kind: string; name: string }): string {
  const slash = ref.apiVersion.indexOf('/');
  const group = slash === -1 ? '' : ref.apiVersion.slice(0, slash);
  const builtIn = isKnownKind(ref) || group === '';
  return `${ref.kind.toLowerCase()}${builtIn ? '' : `.${group}`}/${ref.name}`;
}

export function rolloutAdvice(ref: WorkloadRef, facts: RolloutFacts | undefined): RolloutAdvice {
  const ns = `-n ${ref.namespace}`;
  if (!isKnownKind(ref)) {
    return { command: null, note: `restart it through its owner ${ref.kind} ${ref.name} (${ref.apiVersion})` };
  }
  const name = workloadName(ref);
  switch (ref.kind) {
    case 'Deployment':
      return {
        command: `kubectl rollout restart ${name} ${ns}`,
        note: facts?.paused
          ? `the Deployment is paused: it rolls once resumed (kubectl rollout resume ${name} ${ns})`
          : null,
      };
    case 'StatefulSet':
    case 'DaemonSet':
      return {
        command: `kubectl rollout restart ${name} ${ns}`,
        note:
          facts?.updateStrategy === 'OnDelete'
            ? 'updateStrategy OnDelete: the restart only changes the template; delete the pods one by one'
            : null,
      };
    case 'ReplicaSet': {
      const labels = facts?.matchLabels;
      const selector =
        labels === undefined || Object.keys(labels).length === 0
          ? undefined
          : Object.entries(labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',');
      return {
        command: selector === undefined ? null : `kubectl delete pod ${ns} -l ${selector}`,
        note: 'no Deployment owns this ReplicaSet: delete its pods, a few at a time, and it creates them again',
      };
    }
    case 'Job':
      return { command: null, note: "a Job's running pods keep their DNS until they finish; its next pods are tuned" };
    case 'CronJob':
      return { command: null, note: 'the next scheduled run is tuned; running Jobs keep their DNS until they finish' };
    default:
      return {
        command: `kubectl delete pod ${ref.name} ${ns}`,
        note: 'a bare pod is not created again by anything: apply its manifest after deleting it',
      };
  }
}
