/**
 * The vocabulary of the pure core. Everything here is plain data: the HTTP layer, the dry-run endpoint and the
 * `explain` CLI all read the same values, so what they show is what /mutate does.
 */
import type { ResolverOption } from './resolver-options.ts';

/** The annotations dns-tuner reads (on namespaces and pods). */
export const ANNOTATIONS = {
  ndots: 'dns-tuner.io/ndots',
  options: 'dns-tuner.io/options',
  nodeLocal: 'dns-tuner.io/node-local',
  fallback: 'dns-tuner.io/fallback',
  mode: 'dns-tuner.io/mode',
  podOverrides: 'dns-tuner.io/pod-overrides',
  skip: 'dns-tuner.io/skip',
  /**
   * A namespace's assertion that its pods may reach the NodeLocal DNSCache, where policies dns-tuner does not read
   * (Cilium, Calico, AdminNetworkPolicy) allow it: `"true"` skips the NetworkPolicy check.
   */
  nodeLocalReachable: 'dns-tuner.io/node-local-reachable',
} as const;

export type AnnotationKey = (typeof ANNOTATIONS)[keyof typeof ANNOTATIONS];

export const LABEL_POLICY = 'dns-tuner.io/policy';
export const ANNOTATION_PREFIX = 'dns-tuner.io/';
export const ANNOTATION_APPLIED = 'dns-tuner.io/applied';

export type Mode = 'enforce' | 'dry-run';

/** One named policy, as written in the config file (after defaults). */
export interface Policy {
  /** Unset: leave ndots alone (ClusterFirst keeps kubelet's 5; `None` gets 5 written explicitly). */
  ndots?: number | undefined;
  options: ResolverOption[];
  nodeLocal: boolean;
  fallback: boolean;
  podOverrides: boolean;
}

/**
 * How pods that ask for node-local get it. `auto` follows the NodeLocal DNSCache found in the cluster (its mode and
 * whether it has available pods); the others are for clusters where detection cannot work (no RBAC, the cache in
 * another namespace, a CNI that hides it): `link-local` always rewrites to the cache IP, `transparent` and `off` give
 * options only.
 */
export const NODE_LOCAL_MODES = ['auto', 'link-local', 'transparent', 'off'] as const;
export type NodeLocalModeSetting = (typeof NODE_LOCAL_MODES)[number];

/** `namespace/name` of an object the cluster facts read. */
export interface ObjectRef {
  namespace: string;
  name: string;
}

/** Where the cluster facts are looked for. */
export interface Discovery {
  /** The kube-dns Service (kubespray names it `coredns`). */
  kubeDnsService: ObjectRef;
  /** The CoreDNS ConfigMap whose Corefile names the cluster domain. */
  coreDnsConfigMap: ObjectRef;
  /** Where the NodeLocal DNSCache DaemonSet runs (any name: it is recognised by its `-localip` argument). */
  nodeLocalNamespace: string;
}

/** Where the cluster facts are looked for when the config does not say. */
export const DEFAULT_DISCOVERY: Readonly<Discovery> = {
  kubeDnsService: { namespace: 'kube-system', name: 'kube-dns' },
  coreDnsConfigMap: { namespace: 'kube-system', name: 'coredns' },
  nodeLocalNamespace: 'kube-system',
};

/** The validated policy configuration (see src/config/schema.ts for the file format). */
export interface Config {
  /** kubelet's --cluster-domain; unset: discovered from the CoreDNS Corefile, else kubelet's default. */
  clusterDomain?: string | undefined;
  /** The kube-dns Service IP; unset: discovered from the kube-dns Service. */
  clusterDNS?: string | undefined;
  nodeLocalDNS?: string | undefined;
  nodeLocalMode: NodeLocalModeSetting;
  discovery: Discovery;
  hostSearchDomains: string[];
  mode: Mode;
  policies: Record<string, Policy>;
}

/** The config with the cluster's values in place (src/core/cluster-rules.ts): what the pod's DNS is built from. */
export type ResolvedConfig = Config & { clusterDomain: string };

/** What the engine needs to know of a namespace: never the whole object. */
export interface NamespaceInfo {
  name: string;
  /** Only `dns-tuner.io/*` labels are kept by the sources. */
  labels: Record<string, string>;
  /** Only `dns-tuner.io/*` annotations are kept by the sources. */
  annotations: Record<string, string>;
}

export interface PodDnsConfig {
  nameservers?: string[] | undefined;
  searches?: string[] | undefined;
  options?: ResolverOption[] | undefined;
}

/** The fields of a Pod the engine reads, validated at the edge (src/kube/pod.ts). The raw object travels beside it. */
export interface PodView {
  name?: string | undefined;
  generateName?: string | undefined;
  namespace?: string | undefined;
  annotations: Record<string, string>;
  /** Read for `dns-tuner.io/skip` only (the webhook's objectSelector filters on it; /dry-run must agree). */
  labels: Record<string, string>;
  dnsPolicy?: string | undefined;
  hostNetwork: boolean;
  osName?: string | undefined;
  /** `spec.nodeSelector` (read for the OS label). */
  nodeSelector?: Record<string, string> | undefined;
  /** `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms` (ORed). */
  requiredNodeTerms?: NodeSelectorTerm[] | undefined;
  dnsConfig?: PodDnsConfig | undefined;
}

/** One required node-affinity term: its label expressions, all of which must match (matchFields are not read). */
export interface NodeSelectorTerm {
  matchExpressions: Array<{ key: string; operator: string; values: string[] }>;
}

/** Where an effective setting came from; shown by the dry-run endpoint and `explain`. */
export type Source = 'built-in' | 'policy' | 'namespace-annotation' | 'pod-annotation' | 'pod-spec';

export interface Sourced<T> {
  value: T;
  source: Source;
  /** The policy name or annotation key that set it. */
  from: string;
}

export interface Settings {
  policy: string;
  mode: Sourced<Mode>;
  ndots: Sourced<number | undefined>;
  /** Resolver options other than ndots, in the order they will be written. */
  options: Array<Sourced<ResolverOption>>;
  nodeLocal: Sourced<boolean>;
  fallback: Sourced<boolean>;
  podOverrides: Sourced<boolean>;
}

/** Why a pod is left alone; a runtime list so the metrics tests can drive every one (test/monitoring/). */
export const SKIP_REASONS = [
  'pod-opt-out',
  'namespace-unknown',
  'namespace-not-opted-in',
  'unknown-policy',
  'dns-policy-default',
  'dns-policy-none',
  'already-applied',
  'host-network',
  'windows',
  'dns-policy-unknown',
  'namespace-unavailable',
  /** The pod as received already breaks an apiserver rule (mutating admission runs before validation). */
  'invalid-pod',
  /** The result would fail the apiserver's validation: never patch a pod into an invalid one. */
  'invalid-result',
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];

/**
 * Why a pod whose policy asks for node-local gets the options only because of what the cluster says (not skips: the
 * pod is still tuned, `mutated` with one of these instead of `policy-applied`). A runtime list for the same reason as
 * SKIP_REASONS.
 */
export const CLUSTER_REASONS = [
  /** The cache answers the kube-dns IP itself: ClusterFirst pods already reach it, with CoreDNS as fail-over. */
  'node-local-transparent',
  /** No cache serves nodeLocalDNS, or it has no available pods. */
  'node-local-unavailable',
  /** An egress NetworkPolicy selecting the pod does not let UDP 53 reach the cache. */
  'node-local-blocked-by-networkpolicy',
  /** The config's clusterDNS or clusterDomain contradicts the cluster: the webhook never writes what it does not serve. */
  'cluster-dns-mismatch',
] as const;

export type ClusterReason = (typeof CLUSTER_REASONS)[number];

/** The reason of a decision that is not a skip: the action's own, or why the cluster kept the pod on options only. */
export type ActionReason = 'policy-applied' | 'mode-dry-run' | 'already-tuned' | ClusterReason;

/**
 * A `dns-tuner.io/*` annotation (or the skip label) that was not taken as written. Bounded: at most one per key and
 * place, so the caller can count `dns_tuner_invalid_annotations_total{annotation}` without reading warnings.
 */
export interface IgnoredAnnotation {
  annotation: AnnotationKey;
  source: 'namespace-annotation' | 'pod-annotation' | 'pod-label';
  /** The value as written (for the options annotation, the first bad token), cut to 64 characters. */
  value: string;
  /**
   * `invalid`: not a value we understand (skip then means skip and mode means dry-run: fail safe; others are
   * ignored). `not-allowed`: the policy does not allow pod overrides. `unconfigured`: needs nodeLocalDNS/clusterDNS.
   */
  problem: 'invalid' | 'not-allowed' | 'unconfigured';
}

/** Why a node-local rewrite was declined in favour of options only (ADR 2, and the cluster's rules: ADR 10). */
export type NodeLocalDeclinedReason =
  /** The author's nameservers that kubelet would keep, node-local and the kube-dns fallback do not fit in 3. */
  | 'nameservers-full'
  /** The policy wants the kube-dns fallback but no clusterDNS is configured or discovered. */
  | 'no-cluster-dns'
  /** The config's nodeLocalMode is `off`. */
  | 'node-local-off'
  | ClusterReason;

export interface PodDns {
  dnsPolicy: string;
  dnsConfig?: PodDnsConfig | undefined;
}

/** One RFC 6902 operation, as fast-json-patch produces them. */
export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export type Decision =
  | {
      action: 'skip';
      reason: SkipReason;
      message: string;
      policy?: string | undefined;
      warnings: string[];
      invalidAnnotations: IgnoredAnnotation[];
    }
  | {
      /** `unchanged`: the pod already carries the result (reinvocation, replay) — the patch is empty. */
      action: 'mutate' | 'dry-run' | 'unchanged';
      /** ACTION_REASON of the action; for `mutate`, the cluster's reason when it kept the pod on options only. */
      reason: ActionReason;
      policy: string;
      settings: Settings;
      before: PodDns;
      after: PodDns;
      /** For `dry-run`: the patch that enforce mode would send. */
      patch: PatchOperation[];
      /** One line, e.g. `dnsPolicy=None nameservers=169.254.20.10,10.96.0.10 options=ndots:3,timeout:1`. */
      summary: string;
      warnings: string[];
      invalidAnnotations: IgnoredAnnotation[];
      /** Set when the policy asked for node-local but the pod keeps its dnsPolicy and gets options only. */
      nodeLocalDeclined?: { reason: NodeLocalDeclinedReason; message: string } | undefined;
      auditAnnotations: Record<string, string>;
    };
