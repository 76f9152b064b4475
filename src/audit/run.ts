/**
 * One audit: read the namespaces in scope, then the owners (./owners.ts: their pod templates reviewed once each, as
 * the pods a rollout creates), then stream the running pods page by page, each compared with its workload's verdict
 * (or, without a template, with itself as created: ./verdict.ts) and counted (./tally.ts). Nothing is written to the
 * cluster. Memory: the owners' verdicts and the per-workload tallies, never the pods (a page of them at a time).
 */
import { ANNOTATION_APPLIED, LABEL_POLICY, type NamespaceInfo, type PodDns } from '../core/types.ts';
import type { ApiClient } from '../kube/api-client.ts';
import { parsePodView } from '../kube/pod.ts';
import { readPodIdentity } from '../kube/workloads.ts';
import { createFixedNamespaceSource } from '../namespaces/fixed-source.ts';
import type { NamespaceSource } from '../namespaces/source.ts';
import type { ReviewService } from '../review/service.ts';
import { type AuditScopeRequest, listInScope, readNamespaces } from './cluster.ts';
import { ownDns } from './dns.ts';
import { createOwnerIndex } from './owners.ts';
import {
  type AuditProblem,
  AuditTally,
  EXCLUDED_NAMESPACES,
  NAMESPACE_EXCLUDED_REASON,
  type PodFinding,
  STATIC_POD_REASON,
  type WorkloadRef,
} from './tally.ts';
import { podVerdict, type Verdict } from './verdict.ts';

export interface AuditDeps {
  api: ApiClient;
  /** The API server's URL, for messages. */
  server: string;
  /**
   * Builds the review service /mutate uses, over the namespaces the audit read — the one place its dependencies are
   * chosen (../cli/audit.ts), so what the webhook would decide is what the audit computes.
   */
  createReview(namespaces: NamespaceSource): ReviewService;
}

export interface AuditOptions {
  scope: AuditScopeRequest;
  /** -l: only pods matching this label selector. */
  selector?: string | undefined;
  /** `limit` of each list page. Default 500. */
  pageSize?: number | undefined;
  onProgress?: ((progress: AuditProgress) => void) | undefined;
}

export interface AuditProgress {
  phase: 'namespaces' | 'owners' | 'pods';
  /** Objects read so far in this phase. */
  read: number;
}

/** Succeeded and Failed pods run nothing; the API leaves them out (pods support status.phase field selectors). */
const RUNNING_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

export async function auditCluster(deps: AuditDeps, options: AuditOptions): Promise<AuditTally> {
  const { api } = deps;
  const tally = new AuditTally();
  const progress = options.onProgress ?? (() => {});
  const reported = new Set<string>();
  const report = (problem: AuditProblem) => {
    // One line per resource, namespace and status: a 403 met by a list and then by each GET is one lesson.
    const key = `${problem.resource}\u0000${problem.namespace ?? ''}\u0000${problem.status ?? ''}`;
    if (reported.has(key)) return;
    reported.add(key);
    tally.problem(problem);
  };

  progress({ phase: 'namespaces', read: 0 });
  const read = await readNamespaces(api, options.scope, deps.server);
  for (const problem of read.problems) report(problem);
  const infos = new Map<string, NamespaceInfo>(read.namespaces.map((ns) => [ns.name, ns]));
  const policyOf = (namespace: string) => infos.get(namespace)?.labels[LABEL_POLICY];
  // Named namespaces are listed even without pods: "nothing here" is an answer too.
  if (!options.scope.all) for (const ns of read.namespaces) tally.addNamespace(ns.name, policyOf(ns.name));
  const review = deps.createReview(createFixedNamespaceSource(read.namespaces));
  const scope = {
    all: options.scope.all,
    namespaces: [...infos.keys()],
    onProblem: report,
    pageSize: options.pageSize,
  };
  if (!scope.all && scope.namespaces.length === 0) return tally;

  const owners = createOwnerIndex({
    api,
    review,
    scope,
    report,
    onProgress: (read) => progress({ phase: 'owners', read }),
  });
  await owners.load();

  const seen = new Set<string>();
  let pods = 0;
  const podList = listInScope(api, 'pods', { ...scope, labelSelector: options.selector, fieldSelector: RUNNING_PODS });
  for await (const items of podList) {
    for (const item of items) {
      const id = readPodIdentity(item);
      if (!id.ok) {
        report({ resource: 'pods', namespace: undefined, status: undefined, message: id.error });
        continue;
      }
      const pod = id.value;
      if (pod.phase === 'Succeeded' || pod.phase === 'Failed') continue;
      // A list restarted after its continue token expired sends pods again.
      if (pod.uid !== undefined) {
        if (seen.has(pod.uid)) continue;
        seen.add(pod.uid);
      }
      const view = parsePodView(item);
      const finding: PodFinding = {
        name: pod.name,
        current: view.ok ? ownDns(view.pod) : undefined,
        hostNetwork: view.ok && view.pod.hostNetwork,
        applied: view.ok ? view.pod.annotations[ANNOTATION_APPLIED] : undefined,
      };
      const policy = policyOf(pod.namespace);
      if (pod.mirror) {
        const ref: WorkloadRef = { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace };
        tally.addWithState(ref, staticVerdict(finding.current, pod.nodeName), undefined, finding, policy, 'skipped');
        continue;
      }
      const target = await owners.targetOf(pod);
      if (EXCLUDED_NAMESPACES.has(pod.namespace)) {
        const verdict = excludedVerdict(pod.namespace, finding.current);
        tally.addWithState(target.ref, verdict, target.template?.facts, finding, policy, 'skipped');
        continue;
      }
      const verdict = target.template?.verdict ?? (await podVerdict(review, item as Record<string, unknown>));
      const workload = tally.add(target.ref, verdict, target.template?.facts, finding, policy);
      if (target.note !== undefined) workload.note(target.note);
    }
    pods += items.length;
    progress({ phase: 'pods', read: pods });
  }
  return tally;
}

/** The webhook is never called for these pods: what they have is what a pod created now gets. */
function excludedVerdict(namespace: string, current: PodDns | undefined): Verdict {
  return {
    decision: 'skipped',
    reason: NAMESPACE_EXCLUDED_REASON,
    policy: undefined,
    detail: `the webhook registration never sends pods of namespace ${namespace}`,
    wouldBe: current,
    hostNetwork: false,
    basis: 'pod',
  };
}

function staticVerdict(current: PodDns | undefined, node: string | undefined): Verdict {
  return {
    decision: 'skipped',
    reason: STATIC_POD_REASON,
    policy: undefined,
    detail: `kubelet runs this static pod from a manifest file on ${node === undefined ? 'its node' : `node ${node}`}; the API object only mirrors it`,
    wouldBe: current,
    hostNetwork: false,
    basis: 'pod',
  };
}
