/**
 * The cluster objects that decide where a pod's DNS may go, read as the apiserver and `kubectl get -o json|yaml`
 * print them (unknown fields ignored, `null` where a list or map may be empty) and projected into the core's compact
 * types. Validated once here; an error names the object, the field and the value.
 *
 * - Service `kube-system/kube-dns`: its cluster IPs.
 * - ConfigMap `kube-system/coredns`: the cluster domain from its Corefile.
 * - a DaemonSet running node-cache: the NodeLocal DNSCache and its mode.
 * - every NetworkPolicy: isolation and egress rules, with the apiserver's defaulting applied.
 */
import { z } from 'zod';
import {
  clusterDomainFromCorefile,
  type DaemonSetView,
  kubernetesZones,
  type NodeLocalDns,
  nodeLocalFromDaemonSet,
} from '../core/cluster.ts';
import { formatIp, parseCidr, parseIp } from '../core/ip.ts';
import type {
  EgressRule,
  LabelSelector,
  NetworkPolicy,
  PolicyPeer,
  PolicyPort,
  PolicyType,
} from '../core/network-policy.ts';
import { showValue } from '../core/show-value.ts';

export type Projection<T> = { ok: true; value: T } | { ok: false; error: string };

/** Type errors say what was expected and what came. */
function typeError(issue: { code?: string; expected?: unknown; input?: unknown }): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  return issue.input === undefined ? 'is required' : `must be ${String(issue.expected)}, got ${showValue(issue.input)}`;
}

const metadataSchema = z.object({ namespace: z.string(), name: z.string() });

/** `kind namespace/name` for error messages, from whatever metadata the object has. */
function objectName(kind: string, raw: unknown): string {
  const metadata = (raw as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const namespace = typeof metadata?.namespace === 'string' ? `${metadata.namespace}/` : '';
  const name = typeof metadata?.name === 'string' ? metadata.name : '(unnamed)';
  return `${kind} ${namespace}${name}`;
}

function project<S extends z.ZodType>(kind: string, schema: S, raw: unknown): Projection<z.output<S>> {
  const result = schema.safeParse(raw, { error: typeError });
  if (result.success) return { ok: true, value: result.data };
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return { ok: false, error: `${objectName(kind, raw)}: ${problems.join('; ')}` };
}

const stringList = z.array(z.string()).nullish();

const ipText = z.string().transform((text, ctx) => {
  const ip = parseIp(text);
  if (ip) return formatIp(ip);
  ctx.addIssue({ code: 'custom', message: `${showValue(text)} is not an IP address` });
  return z.NEVER;
});

const cidrText = z.string().refine((text) => parseCidr(text) !== undefined, {
  error: (issue) => `${showValue(issue.input)} is not a CIDR`,
});

// Service -----------------------------------------------------------------------------------------------------------

/** Headless Services carry "None"; an empty string means not allocated yet. */
const NO_CLUSTER_IP = new Set(['None', '']);

const serviceSchema = z.object({
  metadata: metadataSchema,
  spec: z.object({
    clusterIP: z.string().nullish(),
    clusterIPs: stringList,
  }),
});

const ipListSchema = z.array(ipText);

/** The Service's cluster IPs (`spec.clusterIPs`, else `spec.clusterIP`), as Go prints them; empty when headless. */
export function serviceClusterIps(raw: unknown): Projection<string[]> {
  const service = project('Service', serviceSchema, raw);
  if (!service.ok) return service;
  const { clusterIP, clusterIPs } = service.value.spec;
  const field = clusterIPs ? 'spec.clusterIPs' : 'spec.clusterIP';
  const listed = (clusterIPs ?? (clusterIP == null ? [] : [clusterIP])).filter((ip) => !NO_CLUSTER_IP.has(ip));
  const ips = ipListSchema.safeParse(listed);
  if (ips.success) return { ok: true, value: ips.data };
  const issue = ips.error.issues[0]!;
  const at = clusterIPs ? `${field}.${issue.path.join('.')}` : field;
  return { ok: false, error: `${objectName('Service', raw)}: ${at}: ${issue.message}` };
}

// ConfigMap ---------------------------------------------------------------------------------------------------------

const configMapSchema = z.object({
  metadata: metadataSchema,
  data: z.record(z.string(), z.string()).nullish(),
});

export const COREFILE_KEY = 'Corefile';

/** The cluster domain of the CoreDNS ConfigMap's Corefile; undefined when it has none or names no domain. */
export function configMapClusterDomain(raw: unknown): Projection<string | undefined> {
  const configMap = project('ConfigMap', configMapSchema, raw);
  if (!configMap.ok) return configMap;
  const corefile = configMap.value.data?.[COREFILE_KEY];
  return { ok: true, value: corefile === undefined ? undefined : clusterDomainFromCorefile(corefile) };
}

/** The `kubernetes` zones of the ConfigMap's Corefile, the cluster domain first; undefined when it has no Corefile. */
export function configMapZones(raw: unknown): Projection<string[] | undefined> {
  const configMap = project('ConfigMap', configMapSchema, raw);
  if (!configMap.ok) return configMap;
  const corefile = configMap.value.data?.[COREFILE_KEY];
  return { ok: true, value: corefile === undefined ? undefined : kubernetesZones(corefile) };
}

// DaemonSet ---------------------------------------------------------------------------------------------------------

const containerSchema = z.object({ name: z.string(), command: stringList, args: stringList });

const daemonSetSchema = z
  .object({
    metadata: metadataSchema,
    spec: z.object({ template: z.object({ spec: z.object({ containers: z.array(containerSchema) }) }) }),
    status: z.object({ desiredNumberScheduled: z.int().nullish(), numberAvailable: z.int().nullish() }).nullish(),
  })
  .transform(
    (ds): DaemonSetView => ({
      namespace: ds.metadata.namespace,
      name: ds.metadata.name,
      containers: ds.spec.template.spec.containers.map((c) => ({
        name: c.name,
        command: c.command ?? [],
        args: c.args ?? [],
      })),
      desiredNumberScheduled: ds.status?.desiredNumberScheduled ?? 0,
      numberAvailable: ds.status?.numberAvailable ?? 0,
    }),
  );

export function daemonSetView(raw: unknown): Projection<DaemonSetView> {
  return project('DaemonSet', daemonSetSchema, raw);
}

/** The NodeLocal DNSCache a DaemonSet runs (undefined when it runs none), given the kube-dns Service IPs. */
export function daemonSetNodeLocal(raw: unknown, kubeDnsIps: readonly string[]): Projection<NodeLocalDns | undefined> {
  const view = daemonSetView(raw);
  return view.ok ? { ok: true, value: nodeLocalFromDaemonSet(view.value, kubeDnsIps) } : view;
}

// NetworkPolicy -----------------------------------------------------------------------------------------------------

const selectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).nullish(),
    matchExpressions: z.array(z.object({ key: z.string(), operator: z.string(), values: stringList })).nullish(),
  })
  .transform(
    (s): LabelSelector => ({
      matchLabels: s.matchLabels ?? {},
      matchExpressions: (s.matchExpressions ?? []).map((r) => ({
        key: r.key,
        operator: r.operator,
        values: r.values ?? [],
      })),
    }),
  );

const portNumber = z.int().refine((n) => n >= 1 && n <= 65535, {
  error: (issue) => `${showValue(issue.input)} is not a port number (1-65535)`,
});

const portSchema = z
  .object({
    // Defaulted to TCP by the apiserver (SetDefaults_NetworkPolicyPort); a client may still send none.
    protocol: z.enum(['TCP', 'UDP', 'SCTP']).nullish(),
    port: z.union([portNumber, z.string().min(1)]).nullish(),
    endPort: portNumber.nullish(),
  })
  .superRefine((p, ctx) => {
    if (p.endPort == null) return;
    if (typeof p.port !== 'number')
      ctx.addIssue({
        code: 'custom',
        path: ['endPort'],
        message: `${p.endPort} needs a numeric port, got ${showValue(p.port ?? undefined)}`,
      });
    else if (p.endPort < p.port)
      ctx.addIssue({ code: 'custom', path: ['endPort'], message: `${p.endPort} is below port ${p.port}` });
  })
  .transform(
    (p): PolicyPort => ({
      protocol: p.protocol ?? 'TCP',
      port: p.port ?? undefined,
      endPort: p.endPort ?? undefined,
    }),
  );

const peerSchema = z
  .object({
    ipBlock: z.object({ cidr: cidrText, except: z.array(cidrText).nullish() }).nullish(),
    podSelector: selectorSchema.nullish(),
    namespaceSelector: selectorSchema.nullish(),
  })
  .superRefine((peer, ctx) => {
    const selectors = peer.podSelector != null || peer.namespaceSelector != null;
    if (peer.ipBlock != null && selectors)
      ctx.addIssue({ code: 'custom', message: 'ipBlock cannot be combined with podSelector or namespaceSelector' });
    if (peer.ipBlock == null && !selectors)
      ctx.addIssue({ code: 'custom', message: 'needs an ipBlock, a podSelector or a namespaceSelector' });
  })
  .transform(
    (peer): PolicyPeer => ({
      ipBlock: peer.ipBlock ? { cidr: peer.ipBlock.cidr, except: peer.ipBlock.except ?? [] } : undefined,
      podSelector: peer.podSelector ?? undefined,
      namespaceSelector: peer.namespaceSelector ?? undefined,
    }),
  );

const egressRuleSchema = z
  .object({ to: z.array(peerSchema).nullish(), ports: z.array(portSchema).nullish() })
  .transform((rule): EgressRule => ({ to: rule.to ?? [], ports: rule.ports ?? [] }));

const networkPolicySchema = z
  .object({
    metadata: metadataSchema,
    spec: z.object({
      // A Go struct, not a pointer: a missing or null podSelector is the empty selector, which selects every pod.
      podSelector: selectorSchema.nullish(),
      policyTypes: z.array(z.enum(['Ingress', 'Egress'])).nullish(),
      egress: z.array(egressRuleSchema).nullish(),
    }),
  })
  .transform((np): NetworkPolicy => {
    const egress = np.spec.egress ?? [];
    return {
      namespace: np.metadata.namespace,
      name: np.metadata.name,
      podSelector: np.spec.podSelector ?? { matchLabels: {}, matchExpressions: [] },
      policyTypes: defaultPolicyTypes(np.spec.policyTypes ?? [], egress),
      egress,
    };
  });

/**
 * SetDefaults_NetworkPolicy (https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/networking/v1/defaults.go):
 * no policyTypes means Ingress, plus Egress when there are egress rules. The apiserver stores the defaulted value;
 * this covers objects that never went through it (files, tests).
 */
export function defaultPolicyTypes(policyTypes: readonly PolicyType[], egress: readonly EgressRule[]): PolicyType[] {
  if (policyTypes.length > 0) return [...policyTypes];
  return egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

export function networkPolicy(raw: unknown): Projection<NetworkPolicy> {
  return project('NetworkPolicy', networkPolicySchema, raw);
}
