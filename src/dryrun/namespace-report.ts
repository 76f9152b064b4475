/**
 * A namespace's effective policy (`GET /dry-run/namespaces/{name}`): the engine run on a plain ClusterFirst pod
 * without annotations, so every value shown comes from the config, the namespace label or its annotations — with
 * where it came from. Pure.
 */
import type { ClusterFacts } from '../core/cluster.ts';
import { type DecideInput, decide } from '../core/decide.ts';
import type { Config, Mode, NamespaceInfo, PodDns, Settings } from '../core/types.ts';
import { LABEL_POLICY } from '../core/types.ts';
import { DECISION_OF_ACTION, type ReviewDecision } from '../review/outcome.ts';
import type { NamespaceSection } from './report.ts';
import { REPORT_API_VERSION } from './report.ts';

export interface NamespaceReport {
  apiVersion: typeof REPORT_API_VERSION;
  kind: 'NamespaceReport';
  namespace: NamespaceSection;
  /** True when the namespace carries the dns-tuner.io/policy label (even naming an unknown policy). */
  optedIn: boolean;
  policy: string | null;
  /** Whether the policy the label names exists in the config. */
  policyKnown: boolean;
  mode: Mode | null;
  decision: ReviewDecision;
  reason: string;
  message: string;
  settings: Settings | null;
  /** What a plain ClusterFirst pod ends up with (or would, in dry-run mode). */
  podDns: PodDns | null;
  warnings: string[];
}

/** The pod the report asks about: what the apiserver makes of a pod spec that says nothing about DNS. */
const PLAIN_POD = { metadata: {}, spec: { dnsPolicy: 'ClusterFirst' } };

export function buildNamespaceReport(
  config: Config,
  info: NamespaceInfo,
  clusterFacts?: ClusterFacts | undefined,
): NamespaceReport {
  const raw = structuredClone(PLAIN_POD);
  const input: DecideInput = {
    config,
    clusterFacts,
    namespace: info.name,
    namespaceInfo: info,
    pod: { annotations: {}, labels: {}, hostNetwork: false, dnsPolicy: 'ClusterFirst', namespace: info.name },
    raw,
  };
  const decision = decide(input);
  const policyName = info.labels[LABEL_POLICY];
  const common = {
    apiVersion: REPORT_API_VERSION,
    kind: 'NamespaceReport' as const,
    namespace: {
      name: info.name,
      origin: 'namespace-source' as const,
      status: 'found' as const,
      labels: { ...info.labels },
      annotations: { ...info.annotations },
    },
    optedIn: policyName !== undefined,
    policy: policyName ?? null,
    policyKnown: policyName !== undefined && Object.hasOwn(config.policies, policyName),
    warnings: decision.warnings,
  };
  if (decision.action === 'skip') {
    return {
      ...common,
      mode: null,
      decision: 'skipped',
      reason: decision.reason,
      message: decision.message,
      settings: null,
      podDns: null,
    };
  }
  return {
    ...common,
    mode: decision.settings.mode.value,
    decision: DECISION_OF_ACTION[decision.action],
    reason: decision.reason,
    message: `${decision.policy}: ${decision.summary}`,
    settings: decision.settings,
    podDns: decision.after,
  };
}
