/**
 * Who rolls each pod, and the verdict for the pods it creates: the owner index of one audit. Its controller
 * (ownerReference `controller: true`) is followed from a ReplicaSet to its Deployment and from a Job to its CronJob;
 * the verdict is the review of the template of the object that creates pods on a rollout — the Deployment's, not the
 * ReplicaSet's — or, when that cannot be read, of the nearest template that can; none for a bare pod or an owner of
 * a kind the audit does not read (the caller then reviews the pod itself: ./verdict.ts).
 *
 * `load()` lists the owners in scope first: workload kinds in full (each template reviewed once, whatever its number
 * of pods), ReplicaSets and Jobs as metadata (only their controller is needed, and there are many: old ReplicaSets,
 * past Jobs). An owner the lists did not have (created since, forbidden, or a ReplicaSet's or Job's own template) is
 * read by name once, shared by all its pods. Kept: a verdict per template and a controller per ReplicaSet and Job.
 */
import type { ApiClient } from '../kube/api-client.ts';
import {
  type OwnerRef,
  type PodIdentity,
  type RolloutFacts,
  readIdentity,
  readRolloutFacts,
} from '../kube/workloads.ts';
import type { ReviewService } from '../review/service.ts';
import { type AuditResource, listInScope, RESOURCE_OF_KIND, readObject, type ScopeListOptions } from './cluster.ts';
import { isKnownKind } from './rollout.ts';
import type { AuditProblem, WorkloadRef } from './tally.ts';
import { templateVerdict, type Verdict } from './verdict.ts';

/** Kinds whose templates are read with a full list (the verdict needs the template). */
const TEMPLATE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'] as const;
/** Kinds only followed up to their controller: metadata is enough, and there are many (old ReplicaSets, past Jobs). */
const LINK_KINDS = ['ReplicaSet', 'Job'] as const;

export interface TemplateInfo {
  verdict: Verdict;
  facts: RolloutFacts;
}

/** The workload to roll for a pod, the verdict of its template when one could be read, and why not. */
export interface Target {
  ref: WorkloadRef;
  template?: TemplateInfo | undefined;
  note?: string | undefined;
}

/** What an owner is, read lazily (GET) when the lists did not have it. */
type OwnerRead =
  | { ok: true; controller: OwnerRef | undefined; template: TemplateInfo }
  | { ok: false; status: number | undefined; error: string };

export interface OwnerIndexDeps {
  api: ApiClient;
  review: ReviewService;
  /** The scope's lists (their problems reported through its onProblem). */
  scope: ScopeListOptions;
  report(problem: AuditProblem): void;
  /** Owners read so far. */
  onProgress(read: number): void;
}

export interface OwnerIndex {
  /** Lists the owners in scope. */
  load(): Promise<void>;
  targetOf(pod: PodIdentity): Promise<Target>;
}

export function createOwnerIndex(deps: OwnerIndexDeps): OwnerIndex {
  const { api, review, scope, report } = deps;
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
      deps.onProgress(owners);
    }
  };
  const listLinks = async (kind: (typeof LINK_KINDS)[number]) => {
    for await (const items of listInScope(api, RESOURCE_OF_KIND[kind]!, { ...scope, metadataOnly: true })) {
      for (const item of items) {
        const id = readIdentity(kind, item);
        if (id.ok) controllers.set(keyOf(kind, id.value.namespace, id.value.name), id.value.controller);
      }
      owners += items.length;
      deps.onProgress(owners);
    }
  };

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

  return {
    load: async () => {
      await Promise.all([...TEMPLATE_KINDS.map(listTemplates), ...LINK_KINDS.map(listLinks)]);
    },
    targetOf,
  };
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
