/**
 * The audit report: the tally turned into the stable JSON (and YAML) that `dns-tuner audit -o json` prints, and from
 * which the text table is drawn. Pure. Every key is always present (null when it has no value), so scripts can rely
 * on the shape; README "Auditing running pods" documents it.
 */
import { clusterView, resolveConfig } from '../core/cluster-rules.ts';
import type { Config } from '../core/types.ts';
import { resolvContext } from '../dryrun/report.ts';
import type { ReviewDecision } from '../review/outcome.ts';
import { type QueryCostChange, queryCostChange } from './cost.ts';
import { type DnsView, dnsView } from './dns.ts';
import { type RolloutAdvice, rolloutAdvice, workloadName } from './rollout.ts';
import {
  AUDIT_STATES,
  type AuditProblem,
  type AuditState,
  type AuditTally,
  NAMESPACE_EXCLUDED_REASON,
  NEEDS_ROLLOUT,
  STATIC_POD_REASON,
  type StateCounts,
  type WorkloadTally,
} from './tally.ts';
import type { VerdictBasis } from './verdict.ts';

export const AUDIT_API_VERSION = 'dns-tuner.io/v1alpha1' as const;

export interface AuditScope {
  /** `-A`: every namespace. */
  allNamespaces: boolean;
  /** The namespaces named with `-n` (empty with -A). */
  namespaces: string[];
  /** `-l`, or null. */
  selector: string | null;
}

export interface AuditWorkload {
  namespace: string;
  kind: string;
  apiVersion: string;
  name: string;
  /** As kubectl names it: `deployment/web`. */
  workload: string;
  state: AuditState;
  /** Running pods by state; `affected` = untuned + stale: what a rollout changes. */
  pods: StateCounts & { total: number; affected: number };
  /** The review of a pod created now, in the webhook's own words (its log line, dns_tuner_reviews_total). */
  review: {
    decision: ReviewDecision | null;
    reason: string;
    policy: string | null;
    /** `template`: the owner's pod template; `pod`: the pod itself; `pod-reconstructed`: the pod, our changes undone. */
    basis: VerdictBasis | null;
    detail: string | null;
  };
  /** The DNS of the pods now: the most common among affected pods (else among all). */
  now: DnsView | null;
  /** Pods whose DNS is not `now`. */
  podsWithOtherDns: number;
  /** The DNS a pod created now gets. */
  afterRollout: DnsView | null;
  /** One external lookup, now and after the rollout (for workloads a rollout changes). */
  queryCost: QueryCostChange | null;
  /** What rolls it; both null unless a rollout changes something (untuned, stale). */
  rollout: RolloutAdvice;
  /** For stale pods: the `dns-tuner.io/applied` annotation of one of them (what it was tuned as). */
  tunedAs: string | null;
  /** A few pod names: affected ones when there are any. */
  examples: string[];
  notes: string[];
}

export interface AuditNamespace extends StateCounts {
  name: string;
  /** The namespace's `dns-tuner.io/policy` label, or null (not opted in). */
  policy: string | null;
  pods: number;
}

export interface AuditReport {
  apiVersion: typeof AUDIT_API_VERSION;
  kind: 'AuditReport';
  scope: AuditScope;
  /** The policy configuration the verdicts were computed with: a file, or `built-in`. */
  config: string;
  /** The external name of `queryCost`. */
  lookupName: string;
  /** False when something could not be read (see `problems`): the counts cover the rest. */
  complete: boolean;
  summary: {
    pods: number;
    workloads: number;
    /** Workloads by their state (the most pressing of their pods'), pods by their own. */
    states: Record<AuditState, { workloads: number; pods: number }>;
    /** Skipped pods by the review's reason. */
    skipReasons: Record<string, number>;
  };
  namespaces: AuditNamespace[];
  /** Every workload with a running pod in scope (left out with --summary: null). */
  workloads: AuditWorkload[] | null;
  problems: Array<Omit<AuditProblem, 'status' | 'namespace'> & { namespace: string | null; status: number | null }>;
  /** Problems beyond those listed. */
  problemsOmitted: number;
}

export interface ReportOptions {
  config: Config;
  configName: string;
  scope: AuditScope;
  lookupName: string;
  /** --summary: counts per namespace only. */
  summaryOnly: boolean;
}

const ORDER: Record<AuditState, number> = { untuned: 0, stale: 1, tuned: 2, skipped: 3 };

export function buildAuditReport(tally: AuditTally, options: ReportOptions): AuditReport {
  const states = Object.fromEntries(
    AUDIT_STATES.map((s) => [s, { workloads: 0, pods: 0 }]),
  ) as AuditReport['summary']['states'];
  for (const workload of tally.workloads.values()) {
    states[workload.state].workloads++;
    for (const state of AUDIT_STATES) states[state].pods += workload.counts[state];
  }
  const namespaces = [...tally.namespaces.values()]
    .map((ns) => ({
      name: ns.name,
      policy: ns.policy ?? null,
      pods: ns.counts.untuned + ns.counts.stale + ns.counts.tuned + ns.counts.skipped,
      ...ns.counts,
    }))
    .sort((a, b) => compare(a.name, b.name));
  let workloads: AuditWorkload[] | null = null;
  if (!options.summaryOnly) {
    workloads = [...tally.workloads.values()].map((w) => workloadEntry(w, options));
    workloads.sort(
      (a, b) => ORDER[a.state] - ORDER[b.state] || compare(a.namespace, b.namespace) || compare(a.workload, b.workload),
    );
  }
  const skipReasons = Object.fromEntries([...tally.skipReasons].sort(([a, x], [b, y]) => y - x || compare(a, b)));
  return {
    apiVersion: AUDIT_API_VERSION,
    kind: 'AuditReport',
    scope: options.scope,
    config: options.configName,
    lookupName: options.lookupName,
    complete: tally.problems.length === 0,
    summary: { pods: tally.pods, workloads: tally.workloads.size, states, skipReasons },
    namespaces,
    workloads,
    problems: tally.problems.map((p) => ({
      resource: p.resource,
      namespace: p.namespace ?? null,
      status: p.status ?? null,
      message: p.message,
    })),
    problemsOmitted: tally.problemsOmitted,
  };
}

function workloadEntry(w: WorkloadTally, options: ReportOptions): AuditWorkload {
  const ref = w.workload;
  const verdict = w.verdict;
  const state = w.state;
  const ctx = resolvContext(resolveConfig(options.config, clusterView(options.config, undefined)), ref.namespace);
  const now = w.representative();
  const wouldBe = verdict.wouldBe;
  const hostNetwork = now?.hostNetwork ?? verdict.hostNetwork;
  const affected = w.counts.untuned + w.counts.stale;
  const staticPod = verdict.reason === STATIC_POD_REASON;
  // The audit's own reasons: no review ran (kubelet owns a static pod; the registration never sends the namespace).
  const reviewed = !staticPod && verdict.reason !== NAMESPACE_EXCLUDED_REASON;
  let queryCost: QueryCostChange | null = null;
  if (NEEDS_ROLLOUT.has(state) && now !== undefined && wouldBe !== undefined) {
    queryCost = queryCostChange(options.config, ref.namespace, hostNetwork, now.dns, wouldBe, options.lookupName);
  }
  const withDns = [...w.variants.values()].reduce((sum, v) => sum + v.pods, w.otherVariantPods);
  return {
    namespace: ref.namespace,
    kind: ref.kind,
    apiVersion: ref.apiVersion,
    name: ref.name,
    workload: workloadName(ref),
    state,
    pods: { total: w.total, affected, ...w.counts },
    review: {
      decision: reviewed ? verdict.decision : null,
      reason: verdict.reason,
      policy: verdict.policy ?? null,
      basis: reviewed ? verdict.basis : null,
      detail: verdict.detail ?? null,
    },
    now: now === undefined ? null : dnsView(now.dns, now.hostNetwork, ctx),
    podsWithOtherDns: withDns - (now?.pods ?? 0),
    afterRollout: wouldBe === undefined || staticPod ? null : dnsView(wouldBe, hostNetwork, ctx),
    queryCost,
    // Only for what a rollout changes: a script running every command must not restart the whole cluster.
    rollout: NEEDS_ROLLOUT.has(state) ? rolloutAdvice(ref, w.rollout) : { command: null, note: null },
    tunedAs: w.tunedAs ?? null,
    examples: [...w.examples],
    notes: [...w.notes],
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
