/**
 * Does a pod's NetworkPolicy let its DNS reach a host-network resolver (the NodeLocal DNSCache)?
 *
 * Kubernetes semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/, the API reference
 * of networking.k8s.io/v1 NetworkPolicy):
 * - a pod is isolated for egress when a policy in its own namespace selects it (`spec.podSelector`) and lists
 *   `Egress` in `policyTypes` (already defaulted here: see src/kube/cluster-objects.ts);
 * - an isolated pod may send what at least one egress rule of one of those policies allows, in any order;
 * - a rule allows a packet when its `to` matches the destination and its `ports` match; a missing or empty `to`
 *   means every destination, a missing or empty `ports` every port and protocol;
 * - `ipBlock` matches by address, minus `except`; `podSelector`/`namespaceSelector` peers select pods, never a node's
 *   host-network address (what a plugin does there is implementation-defined: we count it as no match), and a named
 *   port names a container port of the destination pod, so neither lets traffic reach the cache.
 * Linear in the size of the policies; every list returned is bounded.
 */
import { stringify } from 'yaml';
import { type Cidr, cidrContains, hostCidr, type IpAddress, parseCidr } from './ip.ts';

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

export const SELECT_ALL: LabelSelector = { matchLabels: {}, matchExpressions: [] };

export type PolicyType = 'Ingress' | 'Egress';

export interface PolicyPort {
  /** Defaulted: TCP when the object leaves it out. */
  protocol: string;
  /** A number, a container port name, or undefined for every port of the protocol. */
  port?: number | string | undefined;
  endPort?: number | undefined;
}

/** One `to` entry: an ipBlock, or pod/namespace selectors (the API allows no other mix). */
export interface PolicyPeer {
  ipBlock?: { cidr: string; except: string[] } | undefined;
  podSelector?: LabelSelector | undefined;
  namespaceSelector?: LabelSelector | undefined;
}

export interface EgressRule {
  /** Empty: every destination. */
  to: PolicyPeer[];
  /** Empty: every port and protocol. */
  ports: PolicyPort[];
}

/** What a decision needs of a NetworkPolicy: its place, whom it selects, what it isolates, its egress rules. */
export interface NetworkPolicy {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** Already defaulted: `Ingress`, plus `Egress` when the object has egress rules and no policyTypes. */
  policyTypes: PolicyType[];
  egress: EgressRule[];
}

export interface PodIdentity {
  namespace: string;
  /** The labels as admitted (the pod being created). */
  labels: Readonly<Record<string, string>>;
}

export interface PolicyRef {
  namespace: string;
  name: string;
}

/** An egress rule: `rule` is its index in `spec.egress`. */
export interface RuleRef extends PolicyRef {
  rule: number;
}

export interface ProtocolVerdict {
  allowed: boolean;
  /** The rules that allow it (at most MAX_REFS). */
  allowedBy: RuleRef[];
  /**
   * Rules whose ports allow it but whose peers are all pod or namespace selectors: the usual "DNS to the kube-dns
   * pods" rule, which never reaches a host-network resolver (at most MAX_REFS).
   */
  podPeersOnly: RuleRef[];
}

/** `udp-only`: small answers get through, truncated ones (retried over TCP) do not. */
export type DnsEgress = 'not-isolated' | 'allowed' | 'udp-only' | 'tcp-only' | 'blocked';

export interface DnsEgressVerdict {
  verdict: DnsEgress;
  isolated: boolean;
  /** The policies of the pod's namespace that select it for egress (at most MAX_REFS; `selectedCount` counts all). */
  selectedBy: PolicyRef[];
  selectedCount: number;
  /** UDP port 53. */
  udp: ProtocolVerdict;
  /** TCP port 53. */
  tcp: ProtocolVerdict;
  /** Things in the selecting policies that matter to the answer and deserve a sentence (at most MAX_REFS + 1). */
  notes: string[];
}

export const MAX_REFS = 10;
export const DNS_PORT = 53;
export const ALLOW_DNS_POLICY_NAME = 'allow-node-local-dns';

type SelectorMatch = { matches: boolean; invalid?: undefined } | { matches: false; invalid: string };

/** Why apimachinery's NewRequirement refuses this requirement, or undefined when it builds. */
function requirementError(r: LabelSelectorRequirement): string | undefined {
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      return r.values.length === 0 ? `operator ${r.operator} on "${r.key}" needs at least one value` : undefined;
    case 'Exists':
    case 'DoesNotExist':
      return r.values.length > 0 ? `operator ${r.operator} on "${r.key}" takes no values` : undefined;
    default:
      return `"${r.operator}" is not a valid label selector operator`;
  }
}

function requirementHolds(r: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      return has && r.values.includes(labels[r.key]!);
    case 'NotIn':
      return !has || !r.values.includes(labels[r.key]!);
    case 'Exists':
      return has;
    default:
      return !has;
  }
}

/**
 * apimachinery's LabelSelectorAsSelector + Matches
 * (https://github.com/kubernetes/apimachinery/blob/master/pkg/apis/meta/v1/helpers.go,
 * https://github.com/kubernetes/apimachinery/blob/master/pkg/labels/selector.go): `{}` selects everything, every
 * requirement must hold, NotIn also holds when the label is absent. A selector apimachinery cannot build (an unknown
 * operator, In/NotIn without values, Exists/DoesNotExist with values) selects nothing, and says why.
 */
export function matchSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): SelectorMatch {
  for (const r of selector.matchExpressions) {
    const invalid = requirementError(r);
    if (invalid !== undefined) return { matches: false, invalid };
  }
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return { matches: false };
  }
  return { matches: selector.matchExpressions.every((r) => requirementHolds(r, labels)) };
}

/** kubectl's rendering: `app=web,tier in (a,b),!legacy`, and `<all>` for `{}`. */
export function formatSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions) {
    if (r.operator === 'In') parts.push(`${r.key} in (${r.values.join(',')})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${r.values.join(',')})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator} (${r.values.join(',')})`);
  }
  return parts.length === 0 ? '<all>' : parts.join(',');
}

export function describeRule(ref: RuleRef): string {
  return `${ref.namespace}/${ref.name} egress[${ref.rule}]`;
}

/** Collects at most MAX_REFS items and counts the rest. */
class Bounded<T> {
  readonly items: T[] = [];
  count = 0;
  add(item: T): void {
    if (this.items.length < MAX_REFS) this.items.push(item);
    this.count++;
  }
}

type PortMatch = 'match' | 'no' | 'named';

function portMatches(p: PolicyPort, protocol: string, port: number): PortMatch {
  if (p.protocol !== protocol) return 'no';
  if (p.port === undefined) return 'match';
  if (typeof p.port === 'string') return 'named';
  if (p.endPort === undefined) return p.port === port ? 'match' : 'no';
  return p.port <= port && port <= p.endPort ? 'match' : 'no';
}

function portsMatch(ports: readonly PolicyPort[], protocol: string, port: number): PortMatch {
  if (ports.length === 0) return 'match';
  let named = false;
  for (const p of ports) {
    const m = portMatches(p, protocol, port);
    if (m === 'match') return 'match';
    if (m === 'named') named = true;
  }
  return named ? 'named' : 'no';
}

type PeerMatch = 'match' | 'pods-only' | 'no';

/** Whether the rule's `to` lets traffic reach a host-network `destination`. */
function peersMatch(rule: EgressRule, destination: IpAddress, invalid: (message: string) => void): PeerMatch {
  if (rule.to.length === 0) return 'match';
  let podsOnly = true;
  for (const peer of rule.to) {
    if (!peer.ipBlock) continue;
    podsOnly = false;
    if (ipBlockContains(peer.ipBlock, destination, invalid)) return 'match';
  }
  return podsOnly ? 'pods-only' : 'no';
}

function ipBlockContains(
  block: { cidr: string; except: string[] },
  destination: IpAddress,
  invalid: (message: string) => void,
): boolean {
  const cidr = parseCidr(block.cidr);
  if (!cidr) {
    invalid(`ipBlock cidr "${block.cidr}" is not a valid CIDR, so it matches nothing`);
    return false;
  }
  if (!cidrContains(cidr, destination)) return false;
  const excepts: Cidr[] = [];
  for (const text of block.except) {
    const except = parseCidr(text);
    if (!except) {
      invalid(`ipBlock except "${text}" is not a valid CIDR, so the block is counted as matching nothing`);
      return false;
    }
    excepts.push(except);
  }
  return !excepts.some((except) => cidrContains(except, destination));
}

class ProtocolTally {
  readonly allowedBy = new Bounded<RuleRef>();
  readonly podPeersOnly = new Bounded<RuleRef>();
  verdict(isolated: boolean): ProtocolVerdict {
    return {
      allowed: !isolated || this.allowedBy.count > 0,
      allowedBy: this.allowedBy.items,
      podPeersOnly: this.podPeersOnly.items,
    };
  }
}

/**
 * Does NetworkPolicy let this pod send DNS (UDP and TCP port 53) to `destination`, a host-network address such as
 * the NodeLocal DNSCache's? `policies` may hold every namespace's: only the pod's own namespace counts.
 */
export function evaluateDnsEgress(
  policies: readonly NetworkPolicy[],
  pod: PodIdentity,
  destination: IpAddress,
): DnsEgressVerdict {
  const selectedBy = new Bounded<PolicyRef>();
  const notes = new Bounded<string>();
  const protocols = { UDP: new ProtocolTally(), TCP: new ProtocolTally() };
  for (const policy of policies) {
    if (policy.namespace !== pod.namespace || !policy.policyTypes.includes('Egress')) continue;
    const ref = { namespace: policy.namespace, name: policy.name };
    const selection = matchSelector(policy.podSelector, pod.labels);
    if (selection.invalid !== undefined) {
      notes.add(`${ref.namespace}/${ref.name}: podSelector selects nothing: ${selection.invalid}`);
      continue;
    }
    if (!selection.matches) continue;
    selectedBy.add(ref);
    policy.egress.forEach((rule, index) => {
      const ruleRef = { ...ref, rule: index };
      const invalid = (message: string) => notes.add(`${describeRule(ruleRef)}: ${message}`);
      const peers = peersMatch(rule, destination, invalid);
      for (const [protocol, tally] of Object.entries(protocols)) {
        const ports = portsMatch(rule.ports, protocol, DNS_PORT);
        if (ports === 'match' && peers === 'match') tally.allowedBy.add(ruleRef);
        else if (ports === 'match' && peers === 'pods-only') tally.podPeersOnly.add(ruleRef);
        else if (ports === 'named' && peers === 'match')
          invalid(`the named port in ${protocol} ports refers to the destination pods' containers, never a node`);
      }
    });
  }
  const isolated = selectedBy.count > 0;
  const udp = protocols.UDP.verdict(isolated);
  const tcp = protocols.TCP.verdict(isolated);
  const overflow = notes.count - notes.items.length;
  return {
    verdict: summarize(isolated, udp.allowed, tcp.allowed),
    isolated,
    selectedBy: selectedBy.items,
    selectedCount: selectedBy.count,
    udp,
    tcp,
    notes: overflow > 0 ? [...notes.items, `… and ${overflow} more`] : notes.items,
  };
}

function summarize(isolated: boolean, udp: boolean, tcp: boolean): DnsEgress {
  if (!isolated) return 'not-isolated';
  if (udp && tcp) return 'allowed';
  if (udp) return 'udp-only';
  return tcp ? 'tcp-only' : 'blocked';
}

function selectorObject(selector: LabelSelector): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Object.keys(selector.matchLabels).length > 0) out.matchLabels = selector.matchLabels;
  if (selector.matchExpressions.length > 0)
    out.matchExpressions = selector.matchExpressions.map((r) =>
      r.values.length > 0 ? r : { key: r.key, operator: r.operator },
    );
  return out;
}

/**
 * The NetworkPolicy, ready for `kubectl apply -f -`, that lets the selected pods of `namespace` send DNS over UDP and
 * TCP to the cache's addresses (an ipBlock of exactly each address: selectors never match a host-network address).
 *
 * `podSelector` should be that of the policy that isolates the pod (`DnsEgressVerdict.selectedBy`): the new policy
 * then selects only pods that are isolated already. With `{}` it would isolate for egress every pod of the namespace
 * that no policy isolated yet, and cut all their other egress.
 */
export function allowDnsPolicyYaml(
  namespace: string,
  cacheIps: readonly IpAddress[],
  podSelector: LabelSelector = SELECT_ALL,
): string {
  // An empty `to` would allow DNS to every destination.
  if (cacheIps.length === 0) throw new Error('allowDnsPolicyYaml needs at least one cache address');
  const cidrs = cacheIps.map(hostCidr);
  const policy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: ALLOW_DNS_POLICY_NAME, namespace },
    spec: {
      podSelector: selectorObject(podSelector),
      policyTypes: ['Egress'],
      egress: [
        {
          to: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [
            { protocol: 'UDP', port: DNS_PORT },
            { protocol: 'TCP', port: DNS_PORT },
          ],
        },
      ],
    },
  };
  const header = [
    `# Lets pods of namespace ${namespace} (podSelector ${formatSelector(podSelector)}) send DNS to the NodeLocal`,
    `# DNSCache at ${cidrs.join(', ')}. The cache answers from the node's host network, which podSelector and`,
    '# namespaceSelector peers never match: only an ipBlock lets this traffic through.',
  ];
  return `${header.join('\n')}\n${stringify(policy)}`;
}
