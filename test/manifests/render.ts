// Renders kustomizations with the real `kubectl kustomize` and validates what comes out, object by object:
// - against the Kubernetes OpenAPI schema (kubernetes-models; @kubernetes-models/cert-manager and
//   @kubernetes-models/prometheus-operator for those CRDs): types, enums, required fields;
// - for unknown fields, which those JSON schemas let through: built-in kinds are walked along
//   @kubernetes/client-node's generated models (the apiserver's strict field validation, which kubectl apply uses by
//   default since 1.27, would reject a misspelt field); cert-manager and prometheus-operator objects through strict zod
//   schemas of the fields we use.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as clientNode from '@kubernetes/client-node';
import { Certificate, Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

const run = promisify(execFile);

/** A rendered object: kept raw (plain JSON) so tests read exactly what kubectl would send. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
};

/** `kubectl kustomize <dir>`, parsed. Throws with kubectl's stderr when it fails. */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('kubectl', ['kustomize', dir], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: string };
    if (code === 'ENOENT')
      throw new Error('kubectl is not on PATH: the manifest tests render with `kubectl kustomize`');
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || String(error)}`);
  }
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: bad YAML: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(kubeObjectSchema.parse(value) as KubeObject);
  }
  return objects;
}

const kubeObjectSchema = z.looseObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  metadata: z.looseObject({ name: z.string().min(1) }),
});

// ---- cert-manager: strict schemas of the fields our overlay uses -----------------------------------------------
const labelMap = z.record(z.string(), z.string());
const certManagerMetadata = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
});
/** Go time.Duration as cert-manager parses it, e.g. `2160h`, `1h30m`. */
const goDuration = z.string().regex(/^(\d+h)?(\d+m)?(\d+s)?$/);
const issuerRef = z.strictObject({
  group: z.literal('cert-manager.io'),
  kind: z.enum(['Issuer', 'ClusterIssuer']),
  name: z.string().min(1),
});
const issuerSchema = z.strictObject({
  apiVersion: z.literal('cert-manager.io/v1'),
  kind: z.literal('Issuer'),
  metadata: certManagerMetadata,
  spec: z.union([
    z.strictObject({ selfSigned: z.strictObject({}) }),
    z.strictObject({ ca: z.strictObject({ secretName: z.string().min(1) }) }),
  ]),
});
const certificateSchema = z.strictObject({
  apiVersion: z.literal('cert-manager.io/v1'),
  kind: z.literal('Certificate'),
  metadata: certManagerMetadata,
  spec: z.strictObject({
    secretName: z.string().min(1),
    secretTemplate: z.strictObject({ labels: labelMap.optional(), annotations: labelMap.optional() }).optional(),
    commonName: z.string().optional(),
    isCA: z.boolean().optional(),
    dnsNames: z.array(z.string()).optional(),
    duration: goDuration,
    renewBefore: goDuration,
    revisionHistoryLimit: z.number().int().positive().optional(),
    usages: z.array(z.string()).optional(),
    privateKey: z.strictObject({
      algorithm: z.enum(['RSA', 'ECDSA', 'Ed25519']),
      size: z.number().int().optional(),
      rotationPolicy: z.enum(['Always', 'Never']),
    }),
    issuerRef,
  }),
});

// ---- prometheus-operator: strict schemas of the fields our components use ------------------------------------------
const monitoringMetadata = certManagerMetadata;
/** Prometheus's duration syntax (model.ParseDuration), e.g. `30s`, `1h30m`. */
const promDuration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/);
const serviceMonitorSchema = z.strictObject({
  apiVersion: z.literal('monitoring.coreos.com/v1'),
  kind: z.literal('ServiceMonitor'),
  metadata: monitoringMetadata,
  spec: z.strictObject({
    namespaceSelector: z.strictObject({ matchNames: z.array(z.string().min(1)).min(1) }),
    selector: z.strictObject({ matchLabels: labelMap }),
    endpoints: z
      .array(
        z.strictObject({
          port: z.string().min(1),
          path: z.string().startsWith('/'),
          scheme: z.enum(['http', 'https']),
          interval: promDuration,
          scrapeTimeout: promDuration,
        }),
      )
      .min(1),
  }),
});
const prometheusRuleSchema = z.strictObject({
  apiVersion: z.literal('monitoring.coreos.com/v1'),
  kind: z.literal('PrometheusRule'),
  metadata: monitoringMetadata,
  spec: z.strictObject({
    groups: z.array(
      z.strictObject({
        name: z.string().min(1),
        rules: z.array(
          z.strictObject({
            alert: z.string().min(1),
            expr: z.string().min(1),
            for: promDuration.optional(),
            labels: labelMap,
            annotations: labelMap,
          }),
        ),
      }),
    ),
  }),
});

// ---- the kinds we ship ----------------------------------------------------------------------------------------
type Validatable = { validate(): void };
type KindSpec = {
  /** kubernetes-models class: JSON-schema validation. */
  model: new (
    data: never,
  ) => Validatable;
  /** @kubernetes/client-node model name (built-in kinds): unknown-field check. */
  clientModel?: string;
  /** zod schema (CRDs): unknown-field check. */
  strict?: z.ZodType;
};

const KINDS: Record<string, KindSpec> = {
  'v1/Namespace': { model: Namespace, clientModel: 'V1Namespace' },
  'v1/ServiceAccount': { model: ServiceAccount, clientModel: 'V1ServiceAccount' },
  'v1/ConfigMap': { model: ConfigMap, clientModel: 'V1ConfigMap' },
  'v1/Secret': { model: Secret, clientModel: 'V1Secret' },
  'v1/Service': { model: Service, clientModel: 'V1Service' },
  'apps/v1/Deployment': { model: Deployment, clientModel: 'V1Deployment' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, clientModel: 'V1PodDisruptionBudget' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, clientModel: 'V1NetworkPolicy' },
  'rbac.authorization.k8s.io/v1/ClusterRole': { model: ClusterRole, clientModel: 'V1ClusterRole' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { model: ClusterRoleBinding, clientModel: 'V1ClusterRoleBinding' },
  'rbac.authorization.k8s.io/v1/Role': { model: Role, clientModel: 'V1Role' },
  'rbac.authorization.k8s.io/v1/RoleBinding': { model: RoleBinding, clientModel: 'V1RoleBinding' },
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': {
    model: MutatingWebhookConfiguration,
    clientModel: 'V1MutatingWebhookConfiguration',
  },
  'cert-manager.io/v1/Issuer': { model: Issuer, strict: issuerSchema },
  'cert-manager.io/v1/Certificate': { model: Certificate, strict: certificateSchema },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor, strict: serviceMonitorSchema },
  'monitoring.coreos.com/v1/PrometheusRule': { model: PrometheusRule, strict: prometheusRuleSchema },
};

/** Every problem with one object, as `Kind/name: message` lines; empty when it is valid. */
export function validateObject(obj: KubeObject): string[] {
  const id = `${obj.kind}/${obj.metadata.name}`;
  const spec = KINDS[`${obj.apiVersion}/${obj.kind}`];
  if (!spec)
    return [`${id}: no schema for ${obj.apiVersion} ${obj.kind} (add it to KINDS in test/manifests/render.ts)`];
  const problems: string[] = [];
  try {
    new spec.model(unwrapBase64(structuredClone(obj)) as never).validate();
  } catch (error) {
    problems.push(`${id}: schema: ${(error as Error).message}`);
  }
  if (spec.clientModel) {
    for (const path of unknownFields(obj, spec.clientModel, '')) problems.push(`${id}: unknown field ${path}`);
  }
  if (spec.strict) {
    const result = spec.strict.safeParse(obj);
    if (!result.success) {
      for (const issue of result.error.issues) problems.push(`${id}: ${issue.path.join('.')}: ${issue.message}`);
    }
  }
  return problems;
}

/**
 * kustomize writes long base64 values (Secret data, caBundle) wrapped over several lines. The apiserver decodes
 * []byte fields with Go's encoding/base64, which ignores newlines (https://pkg.go.dev/encoding/base64#Encoding.Decode),
 * but the JSON schema's `byte` format does not: join the lines before schema validation.
 */
function unwrapBase64(obj: KubeObject): KubeObject {
  const join = (v: unknown) => (typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v);
  const fields = (record: unknown) => {
    if (isRecord(record)) for (const key of Object.keys(record)) record[key] = join(record[key]);
  };
  if (obj.kind === 'Secret') fields(obj.data);
  if (obj.kind === 'ConfigMap') fields(obj.binaryData);
  if (Array.isArray(obj.webhooks)) {
    for (const webhook of obj.webhooks) {
      const clientConfig = isRecord(webhook) ? webhook.clientConfig : undefined;
      if (isRecord(clientConfig) && 'caBundle' in clientConfig) clientConfig.caBundle = join(clientConfig.caBundle);
    }
  }
  return obj;
}

type Attribute = { baseName: string; type: string };
type ClientModel = { getAttributeTypeMap(): Attribute[] };
const clientModels = clientNode as unknown as Record<string, Partial<ClientModel> | undefined>;
/** client-node type names that are leaves (no fields of their own to check). */
const LEAF_TYPES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Paths of fields that the client-node model `type` (and the models nested in it) does not declare. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (LEAF_TYPES.has(type) || value === null || value === undefined) return [];
  const listOf = /^Array<(.+)>$/.exec(type)?.[1];
  if (listOf !== undefined) {
    return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, listOf, `${path}[${i}]`)) : [];
  }
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type)?.[1];
  if (mapOf !== undefined) {
    return isRecord(value) ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, mapOf, `${path}.${k}`)) : [];
  }
  const model = clientModels[type];
  if (typeof model?.getAttributeTypeMap !== 'function') throw new Error(`no @kubernetes/client-node model ${type}`);
  if (!isRecord(value)) return [];
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([key, child]) => {
    const childType = fields.get(key);
    return childType === undefined ? [`${path}.${key}`] : unknownFields(child, childType, `${path}.${key}`);
  });
}

/** The one object of that kind and name; throws (failing the test) if it is missing. */
export function findObject<T = KubeObject>(objects: KubeObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${found.length}`);
  return found[0] as T;
}

export type CertManagerIssuer = z.infer<typeof issuerSchema>;
export type CertManagerCertificate = z.infer<typeof certificateSchema>;
export type ServiceMonitorObject = z.infer<typeof serviceMonitorSchema>;
export type PrometheusRuleObject = z.infer<typeof prometheusRuleSchema>;

/** A metav1.LabelSelector as the apiserver evaluates it (apimachinery/pkg/apis/meta/v1/helpers.go). */
export type LabelSelector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
};

export function matchesSelector(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true; // the webhook API treats an absent selector as "everything"
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    const ok =
      operator === 'In'
        ? has && values.includes(value!)
        : operator === 'NotIn'
          ? !has || !values.includes(value!)
          : operator === 'Exists'
            ? has
            : operator === 'DoesNotExist'
              ? !has
              : undefined;
    if (ok === undefined) throw new Error(`unknown selector operator ${operator}`);
    if (!ok) return false;
  }
  return true;
}
