/**
 * The admission decision for one pod: pure, synchronous, no I/O, no logger. The HTTP layer (/mutate, /dry-run) and
 * the `explain` CLI all call this, so what they show is what the webhook does.
 */
import { describeValue, readSkip } from './annotations.ts';
import type { ClusterFacts } from './cluster.ts';
import { checkNodeLocal, clusterView, resolveConfig } from './cluster-rules.ts';
import { buildTarget } from './dns-target.ts';
import { diff } from './patch.ts';
import { formatOption } from './resolver-options.ts';
import { resolveSettings } from './settings.ts';
import {
  type ActionReason,
  ANNOTATION_APPLIED,
  CLUSTER_REASONS,
  type ClusterReason,
  type Config,
  type Decision,
  type IgnoredAnnotation,
  LABEL_POLICY,
  type NamespaceInfo,
  type PodDns,
  type PodView,
  type SkipReason,
} from './types.ts';
import {
  annotationsBytes,
  invalidPodProblem,
  isDnsLabel,
  MAX_ANNOTATIONS_BYTES,
  validatePodDns,
} from './validation.ts';
import { truncateText, WarningList } from './warnings.ts';
import { windowsSteering } from './windows.ts';

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
  /**
   * What the cluster says (src/core/cluster.ts), NetworkPolicies narrowed to the pod's namespace; undefined when
   * nothing is known of it: the config is trusted, as without cluster facts.
   */
  clusterFacts?: ClusterFacts | undefined;
}

/**
 * The reason logged and counted for each non-skip action (skips carry their own `SkipReason`); a `mutate` whose
 * node-local rewrite the cluster declined carries the cluster's reason instead (CLUSTER_REASONS).
 */
export const ACTION_REASON = {
  mutate: 'policy-applied',
  'dry-run': 'mode-dry-run',
  unchanged: 'already-tuned',
} as const satisfies Record<string, ActionReason>;

const CLUSTER_REASON_SET: ReadonlySet<string> = new Set(CLUSTER_REASONS);

function isClusterReason(reason: string | undefined): reason is ClusterReason {
  return reason !== undefined && CLUSTER_REASON_SET.has(reason);
}

/**
 * The summary's length bound: it goes into our annotation (which counts against the apiserver's 256 KiB), the audit
 * annotations and the logs, and the author's options are part of it.
 */
export const MAX_SUMMARY_CHARS = 512;

/**
 * Linear in the size of the pod and its namespace's annotations: a pod the apiserver will reject is recognised by its
 * counts before anything else reads its dnsConfig, every loop afterwards runs over bounded or once-read lists, and
 * warnings and ignored annotations are bounded as they are collected.
 */
export function decide(input: DecideInput): Decision {
  const { config, namespace, namespaceInfo, pod } = input;
  const warnings = new WarningList();
  const invalidAnnotations: IgnoredAnnotation[] = [];
  const skip = (reason: SkipReason, message: string, policy?: string, warning?: string): Decision => {
    if (warning !== undefined) warnings.add(warning);
    return { action: 'skip', reason, message, policy, warnings: warnings.list(), invalidAnnotations };
  };

  const skipRequest = readSkip(pod, warnings);
  for (const entry of skipRequest.invalid) invalidAnnotations.push(entry);
  if (skipRequest.skip) return skip('pod-opt-out', 'the pod is labelled or annotated dns-tuner.io/skip');
  if (input.namespaceError !== undefined) {
    return skip(
      'namespace-unavailable',
      `namespace ${namespace} could not be read: ${input.namespaceError}`,
      undefined,
      `dns-tuner: namespace ${namespace} unavailable, pod admitted unchanged`,
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
    return skip('unknown-policy', message, policyName, `dns-tuner: ${message}, pod left unchanged`);
  }

  // Pods whose DNS kubelet does not build from the cluster base: the author (or the node) owns it.
  // https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/network/dns/dns.go (getPodDNSType)
  const dnsPolicy = pod.dnsPolicy ?? 'ClusterFirst';
  const windows = windowsSteering(pod);
  if (windows !== undefined) return skip('windows', `${windows}: Windows pods get their DNS from the node`, policyName);
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
  // Before any other work on dnsConfig: mutating admission runs before validation, so a pod with 100,000 searches
  // arrives here; it is refused by the apiserver whatever we do, and must cost us no more than a count.
  const problem = invalidPodProblem(pod);
  if (problem !== undefined) {
    const message = `the apiserver will reject the pod as received: ${problem}`;
    return skip('invalid-pod', message, policyName, `dns-tuner: pod not tuned, ${message}`);
  }

  // The cluster's kube-dns IP and domain replace what the config leaves unset; what it contradicts is never written.
  const view = clusterView(config, input.clusterFacts);
  const resolvedConfig = resolveConfig(config, view);
  const resolved = resolveSettings(resolvedConfig, policyName, policy, namespaceInfo.annotations, pod, warnings);
  const { settings } = resolved;
  for (const entry of resolved.invalid) invalidAnnotations.push(entry);
  const declined =
    settings.nodeLocal.value && resolvedConfig.nodeLocalDNS !== undefined
      ? checkNodeLocal(
          {
            view,
            facts: input.clusterFacts,
            fallback: settings.fallback.value,
            namespace,
            namespaceAnnotations: namespaceInfo.annotations,
            labels: pod.labels,
          },
          warnings,
          invalidAnnotations,
        )
      : undefined;
  const target = buildTarget(resolvedConfig, settings, namespace, pod, warnings, declined);
  const before: PodDns = { dnsPolicy, ...(pod.dnsConfig ? { dnsConfig: pod.dnsConfig } : {}) };
  const after = target.after;

  // Never hand the apiserver a pod that it (or the resolver) would reject because of us.
  const already = new Set(validatePodDns(before));
  const introduced = validatePodDns(after).filter((e) => !already.has(e));
  if (introduced.length > 0) {
    return skip(
      'invalid-result',
      `the result would be invalid: ${introduced.join('; ')}`,
      policyName,
      `dns-tuner: left pod unchanged, the result would be invalid: ${introduced[0]}`,
    );
  }

  const summary = summarize(after);
  const applied = appliedAnnotation(pod.annotations, `${policyName}: ${summary}`);
  if (applied === undefined) {
    warnings.add(`dns-tuner: ${ANNOTATION_APPLIED} left out: the annotations would exceed the apiserver's 256 KiB`);
  }
  const mutated = applyTo(input.raw, after, target.authorOptions, applied);
  const patch = diff(input.raw, mutated);
  const common = {
    policy: policyName,
    settings,
    before,
    after,
    patch,
    summary,
    invalidAnnotations,
    nodeLocalDeclined: target.nodeLocalDeclined,
  };
  if (patch.length === 0) {
    return {
      ...common,
      action: 'unchanged',
      reason: ACTION_REASON.unchanged,
      warnings: warnings.list(),
      auditAnnotations: {},
    };
  }
  if (settings.mode.value === 'dry-run') {
    return {
      ...common,
      action: 'dry-run',
      reason: ACTION_REASON['dry-run'],
      warnings: warnings.list([`dns-tuner dry-run: would set ${summary}`]),
      auditAnnotations: { policy: policyName, 'dry-run-would-set': summary },
    };
  }
  const declinedBy = target.nodeLocalDeclined?.reason;
  return {
    ...common,
    action: 'mutate',
    reason: isClusterReason(declinedBy) ? declinedBy : ACTION_REASON.mutate,
    warnings: warnings.list(),
    auditAnnotations: { policy: policyName, applied: summary },
  };
}

/**
 * `dnsPolicy=None nameservers=169.254.20.10,10.96.0.10 options=ndots:3,timeout:1` — searches left out (long), and
 * at most MAX_SUMMARY_CHARS: options past the bound are counted (`…+40 more`), not listed.
 */
export function summarize(dns: PodDns): string {
  let text = `dnsPolicy=${dns.dnsPolicy}`;
  const cfg = dns.dnsConfig;
  if (cfg?.nameservers?.length) text += ` nameservers=${cfg.nameservers.join(',')}`;
  const options = cfg?.options ?? [];
  if (options.length > 0) {
    text += ' options=';
    // Room for the widest `,…+N more` tail, so the count itself is never cut off.
    const budget = MAX_SUMMARY_CHARS - 24;
    for (const [i, option] of options.entries()) {
      const piece = `${i > 0 ? ',' : ''}${formatOption(option)}`;
      if (text.length + piece.length > budget) {
        text += `${i > 0 ? ',' : ''}…+${options.length - i} more`;
        break;
      }
      text += piece;
    }
  }
  return truncateText(text, MAX_SUMMARY_CHARS);
}

/**
 * Our annotation's value when the pod's annotations still fit the apiserver's 256 KiB with it (ours replaces an
 * earlier one), else undefined: a pod near the limit is tuned without it rather than pushed over it.
 */
function appliedAnnotation(annotations: Record<string, string>, value: string): string | undefined {
  const key = Buffer.byteLength(ANNOTATION_APPLIED);
  const previous = annotations[ANNOTATION_APPLIED];
  const others = annotationsBytes(annotations) - (previous === undefined ? 0 : key + Buffer.byteLength(previous));
  return others + key + Buffer.byteLength(value) <= MAX_ANNOTATIONS_BYTES ? value : undefined;
}

type Json = Record<string, unknown>;

/**
 * Writes the target into a copy of the raw pod, touching only dnsPolicy, dnsConfig and our annotation.
 * Copy-on-write: only the objects on the path to a change are copied; everything else is shared with `raw`, so
 * the diff (./patch.ts) skips it (identical references) and a large pod costs no deep clone
 * (bench/webhook.ts measured the clone + full diff at ~45 % of a review's CPU).
 */
function applyTo(raw: Json, after: PodDns, authorOptions: number, applied: string | undefined): Json {
  const pod = { ...raw };
  const metadata = child(pod, 'metadata');
  if (applied !== undefined) child(metadata, 'annotations')[ANNOTATION_APPLIED] = applied;
  else if (isObject(metadata.annotations) && Object.hasOwn(metadata.annotations, ANNOTATION_APPLIED)) {
    // A stale value from an earlier pass would describe DNS the pod no longer gets.
    delete child(metadata, 'annotations')[ANNOTATION_APPLIED];
  }
  const spec = child(pod, 'spec');
  spec.dnsPolicy = after.dnsPolicy;
  const cfg = after.dnsConfig;
  if (cfg === undefined) return pod;
  // Keep the raw dnsConfig object (and the author's raw option entries) so nothing we do not model is rewritten.
  const rawConfig = child(spec, 'dnsConfig');
  if (cfg.nameservers !== undefined) rawConfig.nameservers = [...cfg.nameservers];
  if (cfg.searches !== undefined) rawConfig.searches = [...cfg.searches];
  if (cfg.options !== undefined) {
    const rawOptions = Array.isArray(rawConfig.options) ? (rawConfig.options as unknown[]) : undefined;
    const ours = cfg.options
      .slice(authorOptions)
      .map((o) => (o.value === undefined ? { name: o.name } : { name: o.name, value: o.value }));
    // The author's entries stay the raw objects, and the raw array itself when nothing is added: the diff then skips
    // them by reference, however many there are.
    if (rawOptions === undefined || ours.length > 0) rawConfig.options = (rawOptions ?? []).concat(ours);
  }
  return pod;
}

/**
 * A shallow copy of the object at `parent[key]` (or a new one: a pod may arrive without annotations or dnsConfig),
 * put in its place. `parent` must itself be a copy, never an object shared with the raw pod.
 */
function child(parent: Json, key: string): Json {
  const value = parent[key];
  const copy: Json = isObject(value) ? { ...value } : {};
  parent[key] = copy;
  return copy;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
