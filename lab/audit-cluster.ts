/**
 * Workloads and their running pods in the fake Kubernetes API (./fake-kube-api.ts), shaped as the controllers make
 * them: a Deployment owns a ReplicaSet that owns the pods, a CronJob owns a Job that owns them, each with
 * `controller: true` ownerReferences, the template's labels and annotations, `pod-template-hash`, a node and a phase.
 * For `dns-tuner audit`'s tests and benchmark.
 *
 * Each pod is created the way it would be in a real cluster: `created` as the controller asks (no webhook: before the
 * opt-in, or while the webhook was down), or `admitted` through the engine with a given config and namespace, patch
 * applied — so a tuned pod is exactly what /mutate made of it.
 */
import jsonpatch from 'fast-json-patch';
import { decide } from '../src/core/decide.ts';
import type { Config, NamespaceInfo } from '../src/core/types.ts';
import { parsePodView } from '../src/kube/pod.ts';
import { toNamespaceInfo } from '../src/namespaces/source.ts';
import type { FakeKubeApi, ObjectInput, Resource } from './fake-kube-api.ts';

type Json = Record<string, unknown>;

export interface PodTemplate {
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  /** Pod spec fields beside the one container (dnsPolicy, dnsConfig, hostNetwork, nodeSelector…). */
  spec?: Json | undefined;
}

/**
 * How a pod came to be: as its controller asked (`created`), admitted by the webhook under `config` and its
 * namespace as the fake API holds it now (`admitted`), or under another config or namespace (an older policy), or
 * finished (`Succeeded`: no longer running).
 */
export type PodPlan =
  | 'created'
  | 'admitted'
  | { admitted: Config; namespace?: NamespaceInfo | undefined }
  | 'succeeded'
  | 'failed';

export interface ClusterBuilder {
  /** Creates a namespace (labels and annotations as given). */
  namespace(name: string, labels?: Record<string, string>, annotations?: Record<string, string>): void;
  deployment(namespace: string, name: string, template: PodTemplate, pods: PodPlan[], extra?: Json): void;
  statefulSet(namespace: string, name: string, template: PodTemplate, pods: PodPlan[], extra?: Json): void;
  daemonSet(namespace: string, name: string, template: PodTemplate, pods: PodPlan[], extra?: Json): void;
  /** A ReplicaSet no Deployment owns. */
  replicaSet(namespace: string, name: string, template: PodTemplate, pods: PodPlan[]): void;
  job(namespace: string, name: string, template: PodTemplate, pods: PodPlan[]): void;
  cronJob(namespace: string, name: string, template: PodTemplate, pods: PodPlan[]): void;
  /** A pod no controller owns. */
  pod(namespace: string, name: string, template: PodTemplate, plan: PodPlan): void;
  /** A pod owned by a controller of a kind the audit does not know (an Argo Rollout's ReplicaSet, say). */
  ownedPod(
    namespace: string,
    name: string,
    owner: { apiVersion: string; kind: string; name: string },
    template: PodTemplate,
    plan: PodPlan,
  ): void;
  /** A static pod's mirror: owned by its Node, annotated kubernetes.io/config.mirror. */
  staticPod(namespace: string, name: string, node: string, template: PodTemplate): void;
}

export interface ClusterBuilderOptions {
  /** The webhook's config for `admitted` pods. */
  config: Config;
  /** Bulk for every pod, as a real one carries it (managedFields, volumes, container statuses…), merged in. */
  podExtra?: ((name: string) => { metadata?: Json; spec?: Json; status?: Json }) | undefined;
}

const CONTAINER = {
  name: 'app',
  image: 'registry.example.com/app:1.0',
  ports: [{ containerPort: 8080, protocol: 'TCP' }],
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  imagePullPolicy: 'IfNotPresent',
};

function templateOf(t: PodTemplate): Json {
  const metadata: Json = {};
  if (t.labels) metadata.labels = { ...t.labels };
  if (t.annotations) metadata.annotations = { ...t.annotations };
  // As the apiserver stores templates: dnsPolicy and restartPolicy defaulted.
  return {
    metadata,
    spec: { containers: [CONTAINER], restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', ...(t.spec ?? {}) },
  };
}

/** A short stable hash for pod names (ReplicaSet `pod-template-hash`, StatefulSet ordinals aside). */
function hashOf(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36).padStart(7, '0').slice(0, 7);
}

export function clusterBuilder(api: FakeKubeApi, options: ClusterBuilderOptions): ClusterBuilder {
  const uidOf = (resource: Resource, namespace: string, name: string): string =>
    (api.getObject(resource, name, namespace)!.metadata as { uid: string }).uid;

  const ownerRef = (apiVersion: string, kind: string, name: string, uid: string) => ({
    apiVersion,
    kind,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  });

  /** The pod as created from `template` (labels, annotations, spec), then admitted or not as `plan` says. */
  function createPod(
    namespace: string,
    name: string,
    template: PodTemplate,
    plan: PodPlan,
    metadata: Json,
    index: number,
    nodeName = `node-${index % 3}`,
  ): void {
    const t = templateOf(template);
    const tm = t.metadata as Json;
    const extra = options.podExtra?.(name) ?? {};
    let pod: Json = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        ...tm,
        ...metadata,
        labels: { ...(tm.labels as Json), ...(metadata.labels as Json) },
        ...extra.metadata,
      },
      spec: { ...(t.spec as Json), nodeName, ...extra.spec },
    };
    if (plan === 'admitted' || (typeof plan === 'object' && 'admitted' in plan)) {
      const config = plan === 'admitted' ? options.config : plan.admitted;
      const stored = api.getObject('namespaces', namespace)?.metadata as Json;
      const info =
        plan !== 'admitted' && plan.namespace !== undefined
          ? plan.namespace
          : toNamespaceInfo(stored as Parameters<typeof toNamespaceInfo>[0]);
      pod = admit(config, namespace, info, pod);
    }
    const phase = plan === 'succeeded' ? 'Succeeded' : plan === 'failed' ? 'Failed' : 'Running';
    const { apiVersion: _v, kind: _k, ...body } = pod;
    api.createObject('pods', {
      ...(body as ObjectInput),
      status: { phase, podIP: `10.244.${index % 250}.${(index >> 8) % 250}`, ...extra.status },
    } as ObjectInput);
  }

  function workload(resource: Resource, namespace: string, name: string, spec: Json, owner?: Json): string {
    api.createObject(resource, {
      metadata: { name, namespace, labels: { app: name }, ...(owner ? { ownerReferences: [owner] } : {}) },
      spec,
    });
    return uidOf(resource, namespace, name);
  }

  function podsOf(
    namespace: string,
    owner: Json,
    names: (i: number) => string,
    template: PodTemplate,
    plans: PodPlan[],
    labels: Record<string, string> = {},
  ): void {
    for (const [i, plan] of plans.entries()) {
      createPod(namespace, names(i), template, plan, { labels, ownerReferences: [owner] }, i);
    }
  }

  const replicated = (name: string, template: PodTemplate, extra: Json = {}) => ({
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: templateOf({ ...template, labels: { app: name, ...template.labels } }),
    ...extra,
  });

  return {
    namespace(name, labels = {}, annotations = {}) {
      api.create(name, { labels, annotations });
    },

    deployment(namespace, name, template, pods, extra = {}) {
      const withApp = { ...template, labels: { app: name, ...template.labels } };
      const uid = workload('deployments', namespace, name, replicated(name, template, extra));
      const hash = hashOf(`${namespace}/${name}`);
      const rs = `${name}-${hash}`;
      const rsUid = workload(
        'replicasets',
        namespace,
        rs,
        replicated(name, template),
        ownerRef('apps/v1', 'Deployment', name, uid),
      );
      const owner = ownerRef('apps/v1', 'ReplicaSet', rs, rsUid);
      podsOf(namespace, owner, (i) => `${rs}-${hashOf(`${rs}${i}`).slice(0, 5)}`, withApp, pods, {
        'pod-template-hash': hash,
      });
    },

    statefulSet(namespace, name, template, pods, extra = {}) {
      const withApp = { ...template, labels: { app: name, ...template.labels } };
      const uid = workload('statefulsets', namespace, name, replicated(name, template, extra));
      podsOf(namespace, ownerRef('apps/v1', 'StatefulSet', name, uid), (i) => `${name}-${i}`, withApp, pods);
    },

    daemonSet(namespace, name, template, pods, extra = {}) {
      const withApp = { ...template, labels: { app: name, ...template.labels } };
      const { replicas: _r, ...spec } = replicated(name, template, extra);
      const uid = workload('daemonsets', namespace, name, spec);
      podsOf(
        namespace,
        ownerRef('apps/v1', 'DaemonSet', name, uid),
        (i) => `${name}-${hashOf(`${name}${i}`).slice(0, 5)}`,
        withApp,
        pods,
      );
    },

    replicaSet(namespace, name, template, pods) {
      const withApp = { ...template, labels: { app: name, ...template.labels } };
      const uid = workload('replicasets', namespace, name, replicated(name, template));
      podsOf(
        namespace,
        ownerRef('apps/v1', 'ReplicaSet', name, uid),
        (i) => `${name}-${hashOf(`${name}${i}`).slice(0, 5)}`,
        withApp,
        pods,
      );
    },

    job(namespace, name, template, pods) {
      const spec = { template: templateOf({ ...template, spec: { restartPolicy: 'Never', ...template.spec } }) };
      const uid = workload('jobs', namespace, name, spec);
      podsOf(
        namespace,
        ownerRef('batch/v1', 'Job', name, uid),
        (i) => `${name}-${hashOf(`${name}${i}`).slice(0, 5)}`,
        template,
        pods,
        {
          'job-name': name,
        },
      );
    },

    cronJob(namespace, name, template, pods) {
      const jobTemplate = {
        spec: { template: templateOf({ ...template, spec: { restartPolicy: 'Never', ...template.spec } }) },
      };
      const uid = workload('cronjobs', namespace, name, {
        schedule: '*/5 * * * *',
        jobTemplate,
      });
      const job = `${name}-29000000`;
      const jobUid = workload('jobs', namespace, job, jobTemplate.spec, ownerRef('batch/v1', 'CronJob', name, uid));
      podsOf(
        namespace,
        ownerRef('batch/v1', 'Job', job, jobUid),
        (i) => `${job}-${hashOf(`${job}${i}`).slice(0, 5)}`,
        template,
        pods,
        {
          'job-name': job,
        },
      );
    },

    pod(namespace, name, template, plan) {
      createPod(namespace, name, template, plan, {}, 0);
    },

    ownedPod(namespace, name, owner, template, plan) {
      createPod(
        namespace,
        name,
        template,
        plan,
        { ownerReferences: [ownerRef(owner.apiVersion, owner.kind, owner.name, `uid-${owner.name}`)] },
        0,
      );
    },

    staticPod(namespace, name, node, template) {
      const owner = ownerRef('v1', 'Node', node, `uid-${node}`);
      createPod(
        namespace,
        `${name}-${node}`,
        { ...template, annotations: { ...template.annotations, 'kubernetes.io/config.mirror': hashOf(name) } },
        'created',
        { ownerReferences: [owner] },
        0,
        node,
      );
    },
  };
}

/** What /mutate makes of `pod`: the engine's patch applied (nothing when it skips, or in dry-run mode). */
export function admit(config: Config, namespace: string, info: NamespaceInfo | undefined, pod: Json): Json {
  const view = parsePodView(pod);
  if (!view.ok) throw new Error(view.error);
  const decision = decide({ config, namespace, namespaceInfo: info, pod: view.pod, raw: pod });
  if (decision.action !== 'mutate') return pod;
  return jsonpatch.applyPatch(structuredClone(pod), decision.patch as jsonpatch.Operation[], true, false).newDocument;
}
