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

/** The validated policy configuration (see src/config/schema.ts for the file format). */
export interface Config {
  clusterDomain: string;
  clusterDNS?: string | undefined;
  nodeLocalDNS?: string | undefined;
  hostSearchDomains: string[];
  mode: Mode;
  policies: Record<string, Policy>;
}

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

/** Why a node-local rewrite was declined in favour of options only (ADR 2). */
export type NodeLocalDeclinedReason =
  /** The author's nameservers that kubelet would keep, node-local and the kube-dns fallback do not fit in 3. */
  | 'nameservers-full'
  /** The policy wants the kube-dns fallback but the config names no clusterDNS. */
  | 'no-cluster-dns';

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
