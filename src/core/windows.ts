/**
 * Pods bound for Windows nodes get their DNS from the node, and NodeLocal DNSCache runs on Linux nodes only (its
 * DaemonSet selects `kubernetes.io/os: linux`). `spec.os.name` is optional (GA 1.25): most Windows workloads are still
 * steered only by `nodeSelector: kubernetes.io/os: windows` or a required node affinity on that label
 * (https://kubernetes.io/docs/concepts/windows/user-guide/). Any of them leaves the pod alone.
 */
import type { PodView } from './types.ts';

/** The well-known node label (k8s.io/api/core/v1 LabelOSStable), and its deprecated beta form. */
const OS_LABELS: ReadonlySet<string> = new Set(['kubernetes.io/os', 'beta.kubernetes.io/os']);

/**
 * What says the pod may run on a Windows node, or undefined. A required node-affinity term (terms are ORed) that
 * admits `windows` or refuses `linux` is enough: the pod may land where node-local is not. One pass over the terms.
 */
export function windowsSteering(pod: PodView): string | undefined {
  if (pod.osName === 'windows') return 'spec.os.name is windows';
  for (const label of OS_LABELS) {
    if (pod.nodeSelector?.[label] === 'windows') return `spec.nodeSelector has ${label}=windows`;
  }
  for (const term of pod.requiredNodeTerms ?? []) {
    for (const { key, operator, values } of term.matchExpressions) {
      if (!OS_LABELS.has(key)) continue;
      if ((operator === 'In' && values.includes('windows')) || (operator === 'NotIn' && values.includes('linux'))) {
        return `a required node affinity term has ${key} ${operator} [${values.slice(0, 4).join(', ')}]`;
      }
    }
  }
  return undefined;
}
