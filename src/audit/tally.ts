/**
 * The audit's arithmetic, pure: each running pod gets a state from its verdict (what the webhook gives a pod created
 * now) and its own DNS, and is counted into its workload and its namespace. Only aggregates are kept — counts, a few
 * example pod names, a few distinct DNS variants — so memory grows with the number of workloads, never of pods.
 *
 * States:
 * - `untuned`: the webhook would tune a pod created now, and this one does not have that DNS (created before its
 *   namespace opted in, while the webhook was down — `failurePolicy: Ignore` — or in dry-run mode);
 * - `stale`: the pod carries `dns-tuner.io/applied` but its DNS is not what a pod created now gets (an older policy,
 *   a namespace annotation changed, or the namespace opted out: a rollout reverts it);
 * - `tuned`: the pod has what a pod created now gets, and the webhook tunes such pods;
 * - `skipped`: the webhook leaves such pods alone (the review's reason says why).
 */
import type { PodDns } from '../core/types.ts';
import type { OwnerRef, RolloutFacts } from '../kube/workloads.ts';
import { dnsKey, sameDns } from './dns.ts';
import type { Verdict } from './verdict.ts';

export const AUDIT_STATES = ['untuned', 'stale', 'tuned', 'skipped'] as const;
export type AuditState = (typeof AUDIT_STATES)[number];

/** The states a rollout would change, in the order the report lists them. */
export const NEEDS_ROLLOUT: ReadonlySet<AuditState> = new Set(['untuned', 'stale']);

/** The audit's own skip reasons, beside the review's: kubelet runs a static pod from a file, not from the API… */
export const STATIC_POD_REASON = 'static-pod';
/** …and the webhook's registration never sends the pods of some namespaces, whatever their labels. */
export const NAMESPACE_EXCLUDED_REASON = 'namespace-excluded';

/**
 * The namespaces manifests/base/webhook.yaml's namespaceSelector leaves out (`kubernetes.io/metadata.name NotIn`): the
 * control plane, and dns-tuner's own (test/audit/tally.test.ts keeps the two lists equal).
 */
export const EXCLUDED_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'dns-tuner']);

/** What to roll: the pod's controller's controller, up to a kind that rolls (Deployment, StatefulSet, …), or the pod. */
export interface WorkloadRef extends OwnerRef {
  namespace: string;
}

export interface PodFinding {
  name: string;
  /** The pod's DNS now; undefined when its spec could not be read. */
  current: PodDns | undefined;
  hostNetwork: boolean;
  /** The value of our `dns-tuner.io/applied` annotation, if the pod carries it. */
  applied: string | undefined;
}

export function podState(verdict: Verdict, pod: PodFinding): AuditState {
  const wouldBe = verdict.wouldBe;
  const tunes = verdict.decision === 'mutated' || verdict.decision === 'unchanged';
  // Nothing to compare (a template or pod the review cannot read): the webhook would skip it as `invalid-pod`.
  if (wouldBe === undefined || pod.current === undefined) return 'skipped';
  if (sameDns(pod.current, wouldBe)) return tunes ? 'tuned' : 'skipped';
  if (pod.applied !== undefined) return 'stale';
  // Different, but not because of the webhook (a template changed and not rolled yet, dry-run mode): not ours.
  return tunes ? 'untuned' : 'skipped';
}

export type StateCounts = Record<AuditState, number>;

export function zeroCounts(): StateCounts {
  return { untuned: 0, stale: 0, tuned: 0, skipped: 0 };
}

/** The workload's state: the most pressing of its pods'. */
export function workloadState(counts: StateCounts): AuditState {
  for (const state of AUDIT_STATES) if (counts[state] > 0) return state;
  return 'skipped';
}

/** Bounds on what one workload keeps: the report shows a few, and counts the rest. */
export const MAX_EXAMPLES = 3;
export const MAX_VARIANTS = 4;
export const MAX_NOTES = 4;

export interface DnsVariant {
  dns: PodDns;
  hostNetwork: boolean;
  pods: number;
  /** Of `pods`, those a rollout would change. */
  affected: number;
}

export class WorkloadTally {
  readonly workload: WorkloadRef;
  /** The verdict shown for the workload: the first pod's, replaced by the first affected pod's. */
  verdict: Verdict;
  rollout: RolloutFacts | undefined;
  readonly counts: StateCounts = zeroCounts();
  readonly variants = new Map<string, DnsVariant>();
  /** Pods whose DNS matched none of the kept variants. */
  otherVariantPods = 0;
  readonly examples: string[] = [];
  /** The `dns-tuner.io/applied` value of the first stale pod: what it was tuned as. */
  tunedAs: string | undefined;
  readonly notes: string[] = [];
  private examplesAffected = false;

  constructor(workload: WorkloadRef, verdict: Verdict, rollout: RolloutFacts | undefined) {
    this.workload = workload;
    this.verdict = verdict;
    this.rollout = rollout;
  }

  add(pod: PodFinding, state: AuditState, verdict: Verdict): void {
    const affected = NEEDS_ROLLOUT.has(state);
    const firstAffected = affected && this.counts.untuned + this.counts.stale === 0;
    this.counts[state]++;
    if (firstAffected) this.verdict = verdict;
    if (state === 'stale' && this.tunedAs === undefined) this.tunedAs = pod.applied;
    // Examples: the pods to look at — affected ones once there are any.
    if (affected && !this.examplesAffected) {
      this.examples.length = 0;
      this.examplesAffected = true;
    }
    if (this.examples.length < MAX_EXAMPLES && (affected || !this.examplesAffected)) this.examples.push(pod.name);
    if (pod.current !== undefined) {
      const key = dnsKey(pod.current);
      let variant = this.variants.get(key);
      if (variant === undefined && this.variants.size < MAX_VARIANTS) {
        variant = { dns: pod.current, hostNetwork: pod.hostNetwork, pods: 0, affected: 0 };
        this.variants.set(key, variant);
      }
      if (variant === undefined) this.otherVariantPods++;
      else {
        variant.pods++;
        if (affected) variant.affected++;
      }
    }
  }

  note(text: string): void {
    if (this.notes.length < MAX_NOTES && !this.notes.includes(text)) this.notes.push(text);
  }

  get state(): AuditState {
    return workloadState(this.counts);
  }

  get total(): number {
    return this.counts.untuned + this.counts.stale + this.counts.tuned + this.counts.skipped;
  }

  /** The DNS the report shows as "now": the most common among affected pods, else among all. */
  representative(): DnsVariant | undefined {
    let best: DnsVariant | undefined;
    const affected = this.counts.untuned + this.counts.stale > 0;
    for (const variant of this.variants.values()) {
      const weight = affected ? variant.affected : variant.pods;
      if (best === undefined || weight > (affected ? best.affected : best.pods)) best = variant;
    }
    return best;
  }
}

export interface NamespaceTally {
  name: string;
  /** The `dns-tuner.io/policy` label, if the namespace has opted in. */
  policy: string | undefined;
  counts: StateCounts;
}

/** Something the audit could not read; the rest is still reported, and the exit code says it is incomplete. */
export interface AuditProblem {
  /** The resource that could not be read: `pods`, `replicasets`, `namespaces`, … */
  resource: string;
  /** The namespace, or undefined for a cluster-wide request. */
  namespace: string | undefined;
  /** HTTP status (403 Forbidden, 500…), or undefined when no answer came (connection refused, timeout). */
  status: number | undefined;
  message: string;
}

/** Problems kept in full; more are counted (a 403 on every namespace of a large cluster is one lesson). */
export const MAX_PROBLEMS = 50;

export class AuditTally {
  readonly workloads = new Map<string, WorkloadTally>();
  readonly namespaces = new Map<string, NamespaceTally>();
  readonly problems: AuditProblem[] = [];
  problemsOmitted = 0;
  pods = 0;
  readonly skipReasons = new Map<string, number>();

  /** Namespaces the report lists even without pods (those named with -n). */
  addNamespace(name: string, policy: string | undefined): NamespaceTally {
    let ns = this.namespaces.get(name);
    if (ns === undefined) {
      ns = { name, policy, counts: zeroCounts() };
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  workload(ref: WorkloadRef, verdict: Verdict, rollout: RolloutFacts | undefined): WorkloadTally {
    const key = `${ref.namespace}\u0000${ref.apiVersion}\u0000${ref.kind}\u0000${ref.name}`;
    let tally = this.workloads.get(key);
    if (tally === undefined) {
      tally = new WorkloadTally(ref, verdict, rollout);
      this.workloads.set(key, tally);
    }
    return tally;
  }

  add(
    ref: WorkloadRef,
    verdict: Verdict,
    rollout: RolloutFacts | undefined,
    pod: PodFinding,
    policy: string | undefined,
  ): WorkloadTally {
    const state = podState(verdict, pod);
    return this.addWithState(ref, verdict, rollout, pod, policy, state);
  }

  /** For a pod whose state is decided without a review (a static pod). */
  addWithState(
    ref: WorkloadRef,
    verdict: Verdict,
    rollout: RolloutFacts | undefined,
    pod: PodFinding,
    policy: string | undefined,
    state: AuditState,
  ): WorkloadTally {
    this.pods++;
    const tally = this.workload(ref, verdict, rollout);
    tally.add(pod, state, verdict);
    this.addNamespace(ref.namespace, policy).counts[state]++;
    if (state === 'skipped') this.skipReasons.set(verdict.reason, (this.skipReasons.get(verdict.reason) ?? 0) + 1);
    return tally;
  }

  problem(problem: AuditProblem): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(problem);
    else this.problemsOmitted++;
  }
}
