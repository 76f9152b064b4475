/**
 * What `dns-tuner audit` reads of running pods and of the objects that own them, validated once here (unknown
 * fields ignored, `null` where Go leaves a list or map empty). The DNS fields of a pod are read by ./pod.ts, the
 * engine's own view; this file reads who owns what and how a workload rolls.
 *
 * Ownership: a pod's controller is the ownerReference with `controller: true`, the one that re-creates it
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/). A static pod's mirror is
 * owned by its Node and carries the `kubernetes.io/config.mirror` annotation
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/types/pod_update.go).
 */
import { z } from 'zod';
import { showValue } from '../core/show-value.ts';

export type Projection<T> = { ok: true; value: T } | { ok: false; error: string };

/** An object that owns another: enough to name it, find it and say how to roll it. */
export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
}

export interface ObjectIdentity {
  name: string;
  namespace: string;
  uid: string | undefined;
  /** The ownerReference with `controller: true`, if any. */
  controller: OwnerRef | undefined;
}

export interface PodIdentity extends ObjectIdentity {
  /** `status.phase`; Succeeded and Failed pods run nothing and resolve nothing. */
  phase: string | undefined;
  /** A static pod's mirror: kubelet runs it from a file on the node, the API only reflects it. */
  mirror: boolean;
  nodeName: string | undefined;
}

/** How a workload rolls, for the rollout command and its caveats. */
export interface RolloutFacts {
  /** StatefulSet/DaemonSet `spec.updateStrategy.type` (`OnDelete`: a restart changes only the template). */
  updateStrategy: string | undefined;
  /** Deployment `spec.paused`: a restart waits for `kubectl rollout resume`. */
  paused: boolean;
  /** `spec.selector.matchLabels` when the selector is only that (a `kubectl -l` can name its pods). */
  matchLabels: Record<string, string> | undefined;
}

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

const ownerReference = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  controller: z.boolean().nullish(),
});

const metadata = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.string().optional(),
  annotations: z.record(z.string(), z.string()).nullish(),
  ownerReferences: z.array(ownerReference).nullish(),
});

const identitySchema = z.object({ metadata });

const podSchema = z.object({
  metadata,
  spec: z.object({ nodeName: z.string().nullish() }).nullish(),
  status: z.object({ phase: z.string().nullish() }).nullish(),
});

const rolloutSchema = z.object({
  spec: z
    .object({
      paused: z.boolean().nullish(),
      updateStrategy: z.object({ type: z.string().nullish() }).nullish(),
      selector: z
        .object({
          matchLabels: z.record(z.string(), z.string()).nullish(),
          matchExpressions: z.array(z.unknown()).nullish(),
        })
        .nullish(),
    })
    .nullish(),
});

/** `kind namespace/name` for messages, from whatever metadata the object has. */
function objectName(kind: string, raw: unknown): string {
  const m = (raw as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const namespace = typeof m?.namespace === 'string' ? `${m.namespace}/` : '';
  const name = typeof m?.name === 'string' ? m.name : '(unnamed)';
  return `${kind} ${namespace}${name}`;
}

function project<S extends z.ZodType>(kind: string, schema: S, raw: unknown): Projection<z.output<S>> {
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0]!;
  const path = issue.path.join('.') || '(root)';
  const found = issue.code === 'invalid_type' ? `, got ${showValue(valueAt(raw, issue.path))}` : '';
  return { ok: false, error: `${objectName(kind, raw)}: ${path}: ${issue.message}${found}` };
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = raw;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | null | undefined)?.[key];
  return value;
}

function controllerOf(refs: ReadonlyArray<z.output<typeof ownerReference>> | null | undefined): OwnerRef | undefined {
  const ref = refs?.find((r) => r.controller === true);
  return ref === undefined ? undefined : { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name };
}

/** Name, namespace, uid and controller of any namespaced object (a full object or PartialObjectMetadata). */
export function readIdentity(kind: string, raw: unknown): Projection<ObjectIdentity> {
  const read = project(kind, identitySchema, raw);
  if (!read.ok) return read;
  const m = read.value.metadata;
  return {
    ok: true,
    value: { name: m.name, namespace: m.namespace, uid: m.uid, controller: controllerOf(m.ownerReferences) },
  };
}

export function readPodIdentity(raw: unknown): Projection<PodIdentity> {
  const read = project('Pod', podSchema, raw);
  if (!read.ok) return read;
  const { metadata: m, spec, status } = read.value;
  const controller = controllerOf(m.ownerReferences);
  return {
    ok: true,
    value: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      controller,
      phase: status?.phase ?? undefined,
      mirror: m.annotations?.[MIRROR_ANNOTATION] !== undefined || controller?.kind === 'Node',
      nodeName: spec?.nodeName ?? undefined,
    },
  };
}

/** Never fails: a field of the wrong shape only costs a caveat in the rollout advice. */
export function readRolloutFacts(raw: unknown): RolloutFacts {
  const read = rolloutSchema.safeParse(raw);
  const spec = read.success ? read.data.spec : undefined;
  const selector = spec?.selector;
  const onlyLabels = selector?.matchLabels && (selector.matchExpressions ?? []).length === 0;
  return {
    updateStrategy: spec?.updateStrategy?.type ?? undefined,
    paused: spec?.paused === true,
    matchLabels: onlyLabels ? { ...selector.matchLabels } : undefined,
  };
}
