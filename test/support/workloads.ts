/**
 * Workloads of every kind the dry run accepts, and the pod each one's controller creates, built here independently
 * of src/report/input.ts (labels, annotations and finalizers from the template, `<name>-` generateName, the
 * namespace, and dnsPolicy defaulted to ClusterFirst as the apiserver does before admission). Key order follows the
 * dry run's own so the two JSON Patches can be compared byte for byte.
 */
import type { Json } from '../../lab/review.ts';

export interface TemplateSpec {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Json;
}

const CONTAINERS = [{ name: 'app', image: 'registry.example.com/app:1.0', ports: [{ containerPort: 8080 }] }];

function template(t: TemplateSpec): Json {
  const metadata: Json = {};
  if (t.labels) metadata.labels = t.labels;
  if (t.annotations) metadata.annotations = t.annotations;
  return { metadata, spec: { containers: CONTAINERS, ...(t.spec ?? {}) } };
}

export const WORKLOAD_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
  'CronJob',
  'PodTemplate',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

const API_VERSIONS: Record<WorkloadKind, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  ReplicationController: 'v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  PodTemplate: 'v1',
};

export function workload(kind: WorkloadKind, name: string, namespace: string | undefined, t: TemplateSpec = {}): Json {
  const metadata: Json = { name, ...(namespace === undefined ? {} : { namespace }), labels: { app: name } };
  const tpl = template(t);
  switch (kind) {
    case 'CronJob':
      return {
        apiVersion: API_VERSIONS[kind],
        kind,
        metadata,
        spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: tpl } } },
      };
    case 'PodTemplate':
      return { apiVersion: API_VERSIONS[kind], kind, metadata, template: tpl };
    default:
      return {
        apiVersion: API_VERSIONS[kind],
        kind,
        metadata,
        spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: tpl },
      };
  }
}

/** The pod the workload's controller asks the apiserver to create, as /mutate receives it. */
export function controllerPod(name: string, namespace: string, t: TemplateSpec = {}): Json {
  const metadata: Json = { generateName: `${name}-`, namespace };
  if (t.labels) metadata.labels = t.labels;
  if (t.annotations) metadata.annotations = t.annotations;
  const spec: Json = { containers: CONTAINERS, ...(t.spec ?? {}) };
  if (spec.dnsPolicy === undefined) spec.dnsPolicy = 'ClusterFirst';
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** An admission.k8s.io/v1 review of a Pod CREATE, as the apiserver sends it. */
export function reviewOf(pod: Json, namespace: string): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'd1c3a1f0-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: pod,
      dryRun: false,
    },
  };
}
