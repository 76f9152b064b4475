/**
 * The report's "Cluster" section: the kube-dns IP, the cluster domain and the node-local mode in force, each with
 * where it came from; the NetworkPolicies that select the pod and what they let through to the cache and to
 * kube-dns; and, when one blocks the cache, the NetworkPolicy that would let the pod reach it. Pure: built from the
 * review's engine input with the engine's own rules (src/core/cluster-rules.ts), so it says what /mutate decided on.
 */
import { type ClusterView, clusterView, type NodeLocalState, podDnsEgress } from '../core/cluster-rules.ts';
import type { DecideInput } from '../core/decide.ts';
import { type DnsEgressVerdict, describeRule, type PolicyRef, type ProtocolVerdict } from '../core/network-policy.ts';
import type { Decision } from '../core/types.ts';

export interface ClusterValueReport<T> {
  value: T;
  from: string;
  /** The configured value contradicts the cluster (pods that would carry it get the options only). */
  mismatch?: string | undefined;
}

export interface ProtocolReport {
  allowed: boolean;
  /** `ns/name egress[i]`: the rules that let it through (at most 10). */
  allowedBy: string[];
  /** Rules whose ports match but whose peers are pod/namespace selectors: they never reach a node's address. */
  podSelectorRules: string[];
}

export interface EgressReport {
  ip: string;
  verdict: DnsEgressVerdict['verdict'];
  udp: ProtocolReport;
  tcp: ProtocolReport;
}

export interface NetworkPolicyReport {
  /** `not-known`: not read (no RBAC, not in the file): not checked; `asserted`: the namespace annotation says reachable. */
  status: 'not-known' | 'not-isolated' | 'isolated';
  /** Why not known. */
  note?: string | undefined;
  /** The namespace asserts the cache is reachable (dns-tuner.io/node-local-reachable: "true"): not checked. */
  asserted: boolean;
  /** The policies of the pod's namespace that select it for egress (at most 10; `selectedCount` counts all). */
  selectedBy: PolicyRef[];
  selectedCount: number;
  cache?: EgressReport | undefined;
  kubeDns?: EgressReport | undefined;
  notes: string[];
  /** The NetworkPolicy that lets the pod reach the cache, ready for `kubectl apply -f -` (when it is blocked). */
  fix?: string | undefined;
}

export interface NodeLocalReport {
  ip: string | null;
  mode: NodeLocalState;
  from: string;
  available: boolean | null;
  daemonSet?: string | undefined;
  pods?: { desired: number; available: number } | undefined;
  /** For this pod, when its settings ask for node-local: pointed at the cache, or the options only and why. */
  pod?: { pointed: boolean; reason?: string | undefined; message?: string | undefined } | undefined;
}

export interface ClusterSection {
  /** `the cluster`, `file cluster.yaml`; null: no cluster facts at all, the config is trusted throughout. */
  origin: string | null;
  kubeDns: ClusterValueReport<string | null>;
  clusterDomain: ClusterValueReport<string>;
  nodeLocal: NodeLocalReport;
  networkPolicies: NetworkPolicyReport;
}

function protocol(verdict: ProtocolVerdict): ProtocolReport {
  return {
    allowed: verdict.allowed,
    allowedBy: verdict.allowedBy.map(describeRule),
    podSelectorRules: verdict.podPeersOnly.map(describeRule),
  };
}

function egress(towards: { ip: string; verdict: DnsEgressVerdict } | undefined): EgressReport | undefined {
  if (towards === undefined) return undefined;
  const { verdict } = towards;
  return { ip: towards.ip, verdict: verdict.verdict, udp: protocol(verdict.udp), tcp: protocol(verdict.tcp) };
}

function nodeLocalReport(view: ClusterView, decision: Decision): NodeLocalReport {
  const nodeLocal = view.nodeLocal;
  const report: NodeLocalReport = {
    ip: nodeLocal.ip ?? null,
    mode: nodeLocal.mode,
    from: nodeLocal.from,
    available: nodeLocal.available ?? null,
  };
  if (nodeLocal.cache !== undefined) {
    report.daemonSet = nodeLocal.cache.daemonSet;
    report.pods = { ...nodeLocal.cache.pods };
  }
  if (decision.action !== 'skip' && decision.settings.nodeLocal.value && nodeLocal.ip !== undefined) {
    const declined = decision.nodeLocalDeclined;
    report.pod =
      declined === undefined
        ? { pointed: true }
        : { pointed: false, reason: declined.reason, message: declined.message };
  }
  return report;
}

/** The section for the pod the engine looked at. */
export function buildClusterSection(input: DecideInput, decision: Decision): ClusterSection {
  const facts = input.clusterFacts;
  const view = clusterView(input.config, facts);
  const egressView = podDnsEgress(view, facts, {
    namespace: input.namespace,
    namespaceAnnotations: input.namespaceInfo?.annotations ?? {},
    labels: input.pod.labels,
  });
  const verdict = egressView.cache?.verdict ?? egressView.kubeDns?.verdict;
  const networkPolicies: NetworkPolicyReport =
    facts?.networkPolicies === undefined
      ? {
          status: 'not-known',
          note: facts === undefined ? 'no cluster facts' : (facts.unknown.networkPolicies ?? 'not read'),
          asserted: egressView.asserted,
          selectedBy: [],
          selectedCount: 0,
          notes: [],
        }
      : {
          status: verdict?.isolated ? 'isolated' : 'not-isolated',
          asserted: egressView.asserted,
          selectedBy: verdict?.selectedBy ?? [],
          selectedCount: verdict?.selectedCount ?? 0,
          cache: egress(egressView.cache),
          kubeDns: egress(egressView.kubeDns),
          notes: verdict?.notes ?? [],
          fix: egressView.fix,
        };
  return {
    origin: view.origin ?? null,
    kubeDns: { value: view.clusterDNS.value ?? null, from: view.clusterDNS.from, mismatch: view.clusterDNS.mismatch },
    clusterDomain: { ...view.clusterDomain },
    nodeLocal: nodeLocalReport(view, decision),
    networkPolicies,
  };
}
