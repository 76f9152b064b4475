/**
 * One audit: read the namespaces in scope, then the owners (their pod templates reviewed once each, as the pods a
 * rollout creates), then stream the running pods page by page, each compared with its workload's verdict and counted
 * (./tally.ts). Nothing is written to the cluster. Memory: the owners' verdicts and the per-workload tallies, never
 * the pods (a page of them at a time).
 *
 * Who rolls a pod: its controller (ownerReference `controller: true`), followed up from a ReplicaSet to its
 * Deployment and from a Job to its CronJob. The verdict comes from the pod template of the object that creates the
 * pods on a rollout — the Deployment's, not the ReplicaSet's — and, when that cannot be read, from the nearest
 * template that can, or from the pod itself (./verdict.ts).
 */
import { ANNOTATION_APPLIED, LABEL_POLICY, type NamespaceInfo, type PodDns } from '../core/types.ts';
import type { ApiClient } from '../kube/api-client.ts';
import { parsePodView } from '../kube/pod.ts';
import {
  type OwnerRef,
  type PodIdentity,
  type RolloutFacts,
  readIdentity,
  readPodIdentity,
  readRolloutFacts,
} from '../kube/workloads.ts';
import { createFixedNamespaceSource } from '../namespaces/fixed-source.ts';
import type { NamespaceSource } from '../namespaces/source.ts';
import type { ReviewService } from '../review/service.ts';
import {
  type AuditResource,
  type AuditScopeRequest,
  listInScope,
  RESOURCE_OF_KIND,
  readNamespaces,
  readObject,
} from './cluster.ts';
import { ownDns } from './dns.ts';
import { isKnownKind } from './rollout.ts';
import {
  type AuditProblem,
  AuditTally,
  EXCLUDED_NAMESPACES,
  NAMESPACE_EXCLUDED_REASON,
  type PodFinding,
  STATIC_POD_REASON,
  type WorkloadRef,
} from './tally.ts';
import { podVerdict, templateVerdict, type Verdict } from './verdict.ts';

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

/** Kinds whose templates are read with a full list (the verdict needs the template). */
const TEMPLATE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'] as const;
/** Kinds only followed up to their controller: metadata is enough, and there are many (old ReplicaSets, past Jobs). */
const LINK_KINDS = ['ReplicaSet', 'Job'] as const;

interface TemplateInfo {
  verdict: Verdict;
  facts: RolloutFacts;
}

/** What an owner is, read lazily (GET) when the lists did not have it. */
type OwnerRead =
  | { ok: true; controller: OwnerRef | undefined; template: TemplateInfo }
  | { ok: false; status: number | undefined; error: string };

interface Target {
  ref: WorkloadRef;
  template?: TemplateInfo | undefined;
  note?: string | undefined;
}

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

  // Owners: every template reviewed once, however many pods it has.
  const templates = new Map<string, TemplateInfo>();
  const controllers = new Map<string, OwnerRef | undefined>();
  let owners = 0;
  const listTemplates = async (kind: (typeof TEMPLATE_KINDS)[number]) => {
    for await (const items of listInScope(api, RESOURCE_OF_KIND[kind]!, scope)) {
      for (const item of items) {
        const id = readIdentity(kind, item);
        if (!id.ok) continue;
        const verdict = await templateVerdict(review, kind, item);
        templates.set(keyOf(kind, id.value.namespace, id.value.name), { verdict, facts: readRolloutFacts(item) });
      }
      owners += items.length;
      progress({ phase: 'owners', read: owners });
    }
  };
  const listLinks = async (kind: (typeof LINK_KINDS)[number]) => {
    for await (const items of listInScope(api, RESOURCE_OF_KIND[kind]!, { ...scope, metadataOnly: true })) {
      for (const item of items) {
        const id = readIdentity(kind, item);
        if (id.ok) controllers.set(keyOf(kind, id.value.namespace, id.value.name), id.value.controller);
      }
      owners += items.length;
      progress({ phase: 'owners', read: owners });
    }
  };
  await Promise.all([...TEMPLATE_KINDS.map(listTemplates), ...LINK_KINDS.map(listLinks)]);

  // An owner the lists did not have (created since, or its list was forbidden): one GET, shared by its pods.
  const fetched = new Map<string, Promise<OwnerRead>>();
  const fetchOwner = (kind: string, namespace: string, name: string): Promise<OwnerRead> => {
    const key = keyOf(kind, namespace, name);
    let pending = fetched.get(key);
    if (pending === undefined) {
      pending = (async (): Promise<OwnerRead> => {
        const resource = RESOURCE_OF_KIND[kind] as AuditResource;
        const got = await readObject(api, resource, namespace, name);
        if (!got.ok) {
          if (got.status !== 404) report({ resource, namespace, status: got.status, message: got.error });
          return got;
        }
        const id = readIdentity(kind, got.object);
        return {
          ok: true,
          controller: id.ok ? id.value.controller : undefined,
          template: { verdict: await templateVerdict(review, kind, got.object), facts: readRolloutFacts(got.object) },
        };
      })();
      fetched.set(key, pending);
    }
    return pending;
  };
  const templateOf = async (kind: string, namespace: string, name: string): Promise<OwnerRead> => {
    const known = templates.get(keyOf(kind, namespace, name));
    return known === undefined
      ? fetchOwner(kind, namespace, name)
      : { ok: true, controller: undefined, template: known };
  };
  const controllerOf = async (
    kind: string,
    namespace: string,
    name: string,
  ): Promise<
    { ok: true; controller: OwnerRef | undefined } | { ok: false; status: number | undefined; error: string }
  > => {
    const key = keyOf(kind, namespace, name);
    if (controllers.has(key)) return { ok: true, controller: controllers.get(key) };
    const got = await fetchOwner(kind, namespace, name);
    return got.ok ? { ok: true, controller: got.controller } : got;
  };

  /** A ReplicaSet's or Job's pods: rolled by its controller (Deployment, CronJob) when it has one. */
  const viaLink = async (pod: PodIdentity, link: OwnerRef, parentKind: string): Promise<Target> => {
    const ns = pod.namespace;
    const linkRef: WorkloadRef = { ...link, namespace: ns };
    const parent = await controllerOf(link.kind, ns, link.name);
    if (!parent.ok) {
      return {
        ref: linkRef,
        note: `${missing(link, parent)}: compared with the pod itself`,
      };
    }
    const controller = parent.controller;
    if (controller === undefined) {
      const own = await templateOf(link.kind, ns, link.name);
      return own.ok ? { ref: linkRef, template: own.template } : { ref: linkRef, note: unreadable(link, own) };
    }
    const ref: WorkloadRef = { ...controller, namespace: ns };
    if (controller.kind === parentKind && isKnownKind(controller)) {
      const top = await templateOf(controller.kind, ns, controller.name);
      if (top.ok) return { ref, template: top.template };
      // The pods were made from the ReplicaSet's (Job's) template, which was the Deployment's (CronJob's) of its time.
      const own = await templateOf(link.kind, ns, link.name);
      const note = `${missing(controller, top)}: ${own.ok ? `compared with its ${link.kind}'s template` : 'compared with the pod itself'}`;
      return { ref, template: own.ok ? own.template : undefined, note };
    }
    // An owner of another kind (an Argo Rollout, say): its ReplicaSet's template is what the pods are made from.
    const own = await templateOf(link.kind, ns, link.name);
    return own.ok ? { ref, template: own.template } : { ref, note: unreadable(link, own) };
  };

  const targetOf = async (pod: PodIdentity): Promise<Target> => {
    const ns = pod.namespace;
    const c = pod.controller;
    if (c === undefined) return { ref: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: ns } };
    if (isKnownKind(c) && c.kind === 'ReplicaSet') return viaLink(pod, c, 'Deployment');
    if (isKnownKind(c) && c.kind === 'Job') return viaLink(pod, c, 'CronJob');
    const ref: WorkloadRef = { ...c, namespace: ns };
    if (isKnownKind(c) && c.kind !== 'Pod') {
      const own = await templateOf(c.kind, ns, c.name);
      return own.ok ? { ref, template: own.template } : { ref, note: unreadable(c, own) };
    }
    return { ref };
  };

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
      const target = await targetOf(pod);
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

function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}\u0000${namespace}\u0000${name}`;
}

/** Why an owner's template is not used: gone (a dangling ownerReference while the garbage collector works), or not readable. */
function missing(owner: OwnerRef, failure: { status: number | undefined; error: string }): string {
  return failure.status === 404
    ? `${owner.kind} ${owner.name} no longer exists`
    : `${owner.kind} ${owner.name} not readable (${failure.error})`;
}

function unreadable(owner: OwnerRef, failure: { status: number | undefined; error: string }): string {
  return `${missing(owner, failure)}: compared with the pod itself`;
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
