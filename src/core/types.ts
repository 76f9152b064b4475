/**
 * The vocabulary of the pure core. Everything here is plain data: the HTTP layer, the dry-run endpoint and the
 * `explain` CLI all read the same values, so what they show is what /mutate does.
 */
import type { ResolverOption } from './resolver-options.ts';

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
  dnsConfig?: PodDnsConfig | undefined;
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
  /** The result would fail the apiserver's validation: never patch a pod into an invalid one. */
  'invalid-result',
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];

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
  | { action: 'skip'; reason: SkipReason; message: string; policy?: string | undefined; warnings: string[] }
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
      auditAnnotations: Record<string, string>;
    };
