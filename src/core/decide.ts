/**
 * The admission decision for one pod: pure, synchronous, no I/O, no logger. The HTTP layer (/mutate, /dry-run) and
 * the `explain` CLI all call this, so what they show is what the webhook does.
 */
import jsonpatch from 'fast-json-patch';
import { describeValue, wantsSkip } from './annotations.ts';
import { buildTarget } from './dns-target.ts';
import { formatOption } from './resolver-options.ts';
import { resolveSettings } from './settings.ts';
import {
  ANNOTATION_APPLIED,
  type Config,
  type Decision,
  LABEL_POLICY,
  type NamespaceInfo,
  type PatchOperation,
  type PodDns,
  type PodView,
  type SkipReason,
} from './types.ts';
import { isDnsLabel, validatePodDns } from './validation.ts';
import { truncateWarning } from './warnings.ts';

export interface DecideInput {
  config: Config;
  /** `request.namespace` of the AdmissionReview (the pod's metadata.namespace may be empty on CREATE). */
  namespace: string;
  /** Undefined when the namespace source does not know the namespace. */
  namespaceInfo: NamespaceInfo | undefined;
  /** Set when the namespace source could not answer (API unreachable): the pod is admitted unchanged. */
  namespaceError?: string | undefined;
  /** The validated view of the fields the engine reads. */
  pod: PodView;
  /** The raw pod object exactly as received: copied on write and diffed, never parsed. */
  raw: Record<string, unknown>;
}

/** The reason logged and counted for each non-skip action (skips carry their own `SkipReason`). */
export const ACTION_REASON = {
  mutate: 'policy-applied',
  'dry-run': 'mode-dry-run',
  unchanged: 'already-tuned',
} as const;

export function decide(input: DecideInput): Decision {
  const { config, namespace, namespaceInfo, pod } = input;
  const skip = (reason: SkipReason, message: string, policy?: string, warnings: string[] = []): Decision => ({
    action: 'skip',
    reason,
    message,
    policy,
    warnings: warnings.map(truncateWarning),
  });

  if (wantsSkip(pod)) return skip('pod-opt-out', 'the pod is labelled or annotated dns-tuner.io/skip=true');
  if (input.namespaceError !== undefined) {
    return skip(
      'namespace-unavailable',
      `namespace ${namespace} could not be read: ${input.namespaceError}`,
      undefined,
      [`dns-tuner: namespace ${namespace} unavailable, pod admitted unchanged`],
    );
  }
  if (namespaceInfo === undefined || !isDnsLabel(namespace)) {
    return skip('namespace-unknown', `namespace ${describeValue(namespace)} is not known to dns-tuner`);
  }
  const policyName = namespaceInfo.labels[LABEL_POLICY];
  if (policyName === undefined) {
    return skip('namespace-not-opted-in', `namespace ${namespace} has no ${LABEL_POLICY} label`);
  }
  const policy = Object.hasOwn(config.policies, policyName) ? config.policies[policyName] : undefined;
  if (policy === undefined) {
    const message = `namespace ${namespace} asks for unknown policy ${describeValue(policyName)}`;
    return skip('unknown-policy', message, policyName, [`dns-tuner: ${message}, pod left unchanged`]);
  }

  // Pods whose DNS kubelet does not build from the cluster base: the author (or the node) owns it.
  // https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/network/dns/dns.go (getPodDNSType)
  const dnsPolicy = pod.dnsPolicy ?? 'ClusterFirst';
  if (pod.osName === 'windows') return skip('windows', 'Windows pods get their DNS from the node', policyName);
  if (dnsPolicy === 'Default')
    return skip('dns-policy-default', 'dnsPolicy Default uses the node resolver', policyName);
  if (dnsPolicy === 'None') {
    return pod.annotations[ANNOTATION_APPLIED] !== undefined
      ? skip('already-applied', 'dns-tuner already set this pod to dnsPolicy None', policyName)
      : skip('dns-policy-none', 'dnsPolicy None: the pod author owns its DNS', policyName);
  }
  if (dnsPolicy === 'ClusterFirst' && pod.hostNetwork) {
    return skip('host-network', 'hostNetwork with ClusterFirst: kubelet uses the node resolver', policyName);
  }
  if (dnsPolicy !== 'ClusterFirstWithHostNet' && dnsPolicy !== 'ClusterFirst') {
    return skip('dns-policy-unknown', `unknown dnsPolicy ${describeValue(dnsPolicy)}`, policyName);
  }

  const { settings, warnings } = resolveSettings(config, policyName, policy, namespaceInfo.annotations, pod);
  const target = buildTarget(config, settings, namespace, pod);
  warnings.push(...target.warnings);
  const before: PodDns = { dnsPolicy, ...(pod.dnsConfig ? { dnsConfig: pod.dnsConfig } : {}) };
  const after = target.after;

  // Never hand the apiserver a pod that it (or the resolver) would reject because of us.
  const introduced = validatePodDns(after).filter((e) => !validatePodDns(before).includes(e));
  if (introduced.length > 0) {
    return skip('invalid-result', `the result would be invalid: ${introduced.join('; ')}`, policyName, [
      `dns-tuner: left pod unchanged, the result would be invalid: ${introduced[0]}`,
    ]);
  }

  const summary = summarize(after);
  const mutated = applyTo(input.raw, after, target.optionOrigins, `${policyName}: ${summary}`);
  const patch = jsonpatch.compare(input.raw, mutated) as PatchOperation[];
  const common = { policy: policyName, settings, before, after, patch, summary };
  if (patch.length === 0) {
    return { ...common, action: 'unchanged', warnings: warnings.map(truncateWarning), auditAnnotations: {} };
  }
  if (settings.mode.value === 'dry-run') {
    return {
      ...common,
      action: 'dry-run',
      warnings: [`dns-tuner dry-run: would set ${summary}`, ...warnings].map(truncateWarning),
      auditAnnotations: { policy: policyName, 'dry-run-would-set': summary },
    };
  }
  return {
    ...common,
    action: 'mutate',
    warnings: warnings.map(truncateWarning),
    auditAnnotations: { policy: policyName, applied: summary },
  };
}

/** `dnsPolicy=None nameservers=169.254.20.10,10.96.0.10 options=ndots:3,timeout:1` — searches left out (long). */
export function summarize(dns: PodDns): string {
  const parts = [`dnsPolicy=${dns.dnsPolicy}`];
  const cfg = dns.dnsConfig;
  if (cfg?.nameservers?.length) parts.push(`nameservers=${cfg.nameservers.join(',')}`);
  if (cfg?.options?.length) parts.push(`options=${cfg.options.map(formatOption).join(',')}`);
  return parts.join(' ');
}

type Json = Record<string, unknown>;

/**
 * Writes the target into a copy of the raw pod, touching only dnsPolicy, dnsConfig and our annotation.
 * Copy-on-write: only the objects on the path to a change are copied; everything else is shared with `raw`, so
 * fast-json-patch's compare skips it (identical references) and a large pod costs no deep clone
 * (bench/webhook.ts measured the clone + full diff at ~45 % of a review's CPU).
 */
function applyTo(raw: Json, after: PodDns, optionOrigins: number[], applied: string): Json {
  const pod = { ...raw };
  child(child(pod, 'metadata'), 'annotations')[ANNOTATION_APPLIED] = applied;
  const spec = child(pod, 'spec');
  spec.dnsPolicy = after.dnsPolicy;
  const cfg = after.dnsConfig;
  if (cfg === undefined) return pod;
  // Keep the raw dnsConfig object (and the author's raw option entries) so nothing we do not model is rewritten.
  const rawConfig = child(spec, 'dnsConfig');
  if (cfg.nameservers !== undefined) rawConfig.nameservers = [...cfg.nameservers];
  if (cfg.searches !== undefined) rawConfig.searches = [...cfg.searches];
  if (cfg.options !== undefined) {
    const rawOptions = Array.isArray(rawConfig.options) ? (rawConfig.options as unknown[]) : [];
    rawConfig.options = cfg.options.map((o, i) => {
      const origin = optionOrigins[i] ?? -1;
      return origin >= 0
        ? rawOptions[origin]
        : o.value === undefined
          ? { name: o.name }
          : { name: o.name, value: o.value };
    });
  }
  return pod;
}

/**
 * A shallow copy of the object at `parent[key]` (or a new one: a pod may arrive without annotations or dnsConfig),
 * put in its place. `parent` must itself be a copy, never an object shared with the raw pod.
 */
function child(parent: Json, key: string): Json {
  const value = parent[key];
  const copy: Json = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Json) } : {};
  parent[key] = copy;
  return copy;
}
