/**
 * What the cluster's facts (./cluster.ts) mean for the config and for one pod: pure rules, the same for /mutate,
 * /dry-run, `explain`, the logs and the metrics (docs/adr/0010-cluster-aware-decisions.md).
 *
 * - `clusterView`: the kube-dns IP, the cluster domain and the node-local mode in force, each with where it came
 *   from. A configured value is verified against the cluster; one the cluster contradicts is a `mismatch`, and the
 *   webhook never writes it. An unset one is discovered. A fact that could not be read leaves the config trusted.
 * - `checkNodeLocal`: whether a pod whose settings ask for node-local may be pointed at the cache, or gets the options
 *   only, and why: the cache answers the kube-dns IP itself (transparent mode), there is none or it has no available
 *   pod, the config contradicts the cluster, or an egress NetworkPolicy keeps the pod's DNS from reaching it.
 * - `podDnsEgress`: what the NetworkPolicies that select the pod let through to the cache and to kube-dns, and the
 *   policy that would let it reach the cache.
 */
import { describeValue, ignoredAnnotation } from './annotations.ts';
import {
  type ClusterFact,
  type ClusterFacts,
  type DaemonSetView,
  type NodeLocalDns,
  nodeLocalFromDaemonSet,
} from './cluster.ts';
import { parseIp } from './ip.ts';
import {
  allowDnsPolicyYaml,
  type DnsEgressVerdict,
  evaluateDnsEgress,
  type LabelSelector,
  type NetworkPolicy,
  type PolicyRef,
  SELECT_ALL,
} from './network-policy.ts';
import {
  ANNOTATIONS,
  type Config,
  type IgnoredAnnotation,
  type NodeLocalDeclinedReason,
  type ResolvedConfig,
} from './types.ts';
import type { WarningList } from './warnings.ts';

/** kubelet's `--cluster-domain` default, and what the config assumes when neither it nor CoreDNS names one. */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/**
 * The node-local mode in force for pods that ask for it: the cache's own mode (or the one the config imposes), `off`,
 * `absent` (no cache serves the configured IP) or `not-configured` (no nodeLocalDNS).
 */
export type NodeLocalState = 'link-local' | 'transparent' | 'off' | 'absent' | 'not-configured';
export const NODE_LOCAL_STATES: readonly NodeLocalState[] = [
  'link-local',
  'transparent',
  'off',
  'absent',
  'not-configured',
];

export interface ClusterValue<T> {
  value: T;
  /** Where the value came from, in words. */
  from: string;
  /** Set when the configured value contradicts the cluster: the pods that would carry it get the options only. */
  mismatch?: string | undefined;
}

export interface NodeLocalView {
  /** The config's nodeLocalDNS. */
  ip: string | undefined;
  mode: NodeLocalState;
  from: string;
  /** Whether the cache found has an available pod; undefined when not checked (not read, or the config decides). */
  available: boolean | undefined;
  /** The NodeLocal DNSCache serving `ip`, when one was found. */
  cache?: NodeLocalDns | undefined;
}

export interface ClusterView {
  /** Where the facts come from; undefined when there are none (the config is trusted throughout). */
  origin: string | undefined;
  clusterDNS: ClusterValue<string | undefined>;
  clusterDomain: ClusterValue<string>;
  nodeLocal: NodeLocalView;
}

/** The fields a mismatch is counted by (`dns_tuner_cluster_mismatch{field}`). */
export const MISMATCH_FIELDS = ['clusterDNS', 'clusterDomain'] as const;
export type MismatchField = (typeof MISMATCH_FIELDS)[number];

function whyUnknown(facts: ClusterFacts | undefined, fact: ClusterFact): string {
  return facts === undefined ? 'no cluster facts' : (facts.unknown[fact] ?? `not in ${facts.origin}`);
}

function sameDomain(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

function clusterDnsOf(config: Config, facts: ClusterFacts | undefined): ClusterValue<string | undefined> {
  const configured = config.clusterDNS;
  const service = facts?.kubeDns;
  if (service === undefined || service.ips.length === 0) {
    const why =
      service === undefined
        ? whyUnknown(facts, 'kubeDns')
        : service.found
          ? `Service ${service.service} has no cluster IP`
          : `no Service ${service.service}`;
    return configured === undefined
      ? { value: undefined, from: `not configured, and not discovered: ${why}` }
      : { value: configured, from: `config (not verified: ${why})` };
  }
  const ips = service.ips.join(', ');
  if (configured === undefined) return { value: service.ips[0], from: `Service ${service.service}` };
  if (service.ips.includes(configured)) {
    return { value: configured, from: `config, verified: an IP of Service ${service.service}` };
  }
  return {
    value: service.ips[0],
    from: `Service ${service.service}`,
    mismatch: `config clusterDNS ${configured} is not an IP of Service ${service.service} (${ips})`,
  };
}

function clusterDomainOf(config: Config, facts: ClusterFacts | undefined): ClusterValue<string> {
  const configured = config.clusterDomain;
  const coreDns = facts?.coreDns;
  if (coreDns === undefined || coreDns.zones.length === 0) {
    const why =
      coreDns === undefined
        ? whyUnknown(facts, 'coreDns')
        : coreDns.found
          ? `ConfigMap ${coreDns.configMap} has no Corefile naming a kubernetes zone`
          : `no ConfigMap ${coreDns.configMap}`;
    return configured === undefined
      ? { value: DEFAULT_CLUSTER_DOMAIN, from: `kubelet's default (not configured, and not discovered: ${why})` }
      : { value: configured, from: `config (not verified: ${why})` };
  }
  const served = `the kubernetes plugin in ConfigMap ${coreDns.configMap}`;
  if (configured === undefined) return { value: coreDns.zones[0]!, from: `${served} (Corefile)` };
  if (coreDns.zones.some((zone) => sameDomain(zone, configured))) {
    return { value: configured, from: `config, verified: a zone of ${served}` };
  }
  return {
    value: coreDns.zones[0]!,
    from: `${served} (Corefile)`,
    mismatch: `config clusterDomain ${configured} is not a zone of ${served} (${coreDns.zones.join(', ')})`,
  };
}

/**
 * What each DaemonSet runs, for the kube-dns IPs it was read against: the adapters keep a DaemonSet's view as one
 * object until it changes, so a review does not parse `-localip` again (a pure cache: same input, same answer).
 */
const cacheOfDaemonSet = new WeakMap<DaemonSetView, { kubeDns: string; cache: NodeLocalDns | undefined }>();

function nodeLocalOfDaemonSet(ds: DaemonSetView, kubeDnsIps: readonly string[]): NodeLocalDns | undefined {
  const kubeDns = kubeDnsIps.join(',');
  const known = cacheOfDaemonSet.get(ds);
  if (known !== undefined && known.kubeDns === kubeDns) return known.cache;
  const cache = nodeLocalFromDaemonSet(ds, kubeDnsIps);
  cacheOfDaemonSet.set(ds, { kubeDns, cache });
  return cache;
}

/** The cache serving `ip`: the DaemonSets whose `-localip` lists it, an available one first. */
function findCache(facts: ClusterFacts, ip: string, kubeDnsIps: readonly string[]): NodeLocalDns | undefined {
  let found: NodeLocalDns | undefined;
  for (const ds of facts.nodeLocalDaemonSets ?? []) {
    const cache = nodeLocalOfDaemonSet(ds, kubeDnsIps);
    if (cache === undefined || !cache.ips.includes(ip)) continue;
    if (cache.available) return cache;
    found ??= cache;
  }
  return found;
}

function nodeLocalOf(config: Config, facts: ClusterFacts | undefined, kubeDnsIps: string[]): NodeLocalView {
  const ip = config.nodeLocalDNS;
  if (ip === undefined) {
    return { ip, mode: 'not-configured', from: 'no nodeLocalDNS in the config', available: undefined };
  }
  const cache = facts?.nodeLocalDaemonSets === undefined ? undefined : findCache(facts, ip, kubeDnsIps);
  const setting = config.nodeLocalMode;
  if (setting !== 'auto') {
    const mode = setting === 'off' ? 'off' : setting;
    return { ip, mode, from: `config nodeLocalMode: ${setting}`, available: undefined, cache };
  }
  if (facts?.nodeLocalDaemonSets === undefined) {
    const why = whyUnknown(facts, 'nodeLocalDaemonSets');
    return { ip, mode: 'link-local', from: `config nodeLocalDNS (not verified: ${why})`, available: undefined };
  }
  if (cache === undefined) {
    const where = `${config.discovery.nodeLocalNamespace} (${facts.origin})`;
    return {
      ip,
      mode: 'absent',
      from: `no DaemonSet in ${where} runs node-cache with -localip ${ip}`,
      available: false,
    };
  }
  return {
    ip,
    mode: cache.mode,
    from: `DaemonSet ${cache.daemonSet} (-localip ${cache.ips.join(',')})`,
    available: cache.available,
    cache,
  };
}

/** The values in force, with where each came from. Linear in the facts' DaemonSets; NetworkPolicies are not read. */
export function clusterView(config: Config, facts: ClusterFacts | undefined): ClusterView {
  const clusterDNS = clusterDnsOf(config, facts);
  // Transparent mode is the cache listening on a kube-dns IP: the Service's, else the one the config names.
  const serviceIps = facts?.kubeDns?.ips ?? [];
  const kubeDnsIps = serviceIps.length > 0 ? serviceIps : config.clusterDNS === undefined ? [] : [config.clusterDNS];
  return {
    origin: facts?.origin,
    clusterDNS,
    clusterDomain: clusterDomainOf(config, facts),
    nodeLocal: nodeLocalOf(config, facts, kubeDnsIps),
  };
}

/** The config with the cluster's values in place: the kube-dns IP and the domain the pod's DNS is built from. */
export function resolveConfig(config: Config, view: ClusterView): ResolvedConfig {
  return { ...config, clusterDNS: view.clusterDNS.value, clusterDomain: view.clusterDomain.value };
}

/** The configured values the cluster contradicts, by field. */
export function mismatches(view: ClusterView): Record<MismatchField, string | undefined> {
  return { clusterDNS: view.clusterDNS.mismatch, clusterDomain: view.clusterDomain.mismatch };
}

export interface PodDnsEgress {
  /** The namespace asserts the cache is reachable (`dns-tuner.io/node-local-reachable: "true"`). */
  asserted: boolean;
  /** Towards the cache's IP; undefined when not evaluated (no nodeLocalDNS, or NetworkPolicies not known). */
  cache?: { ip: string; verdict: DnsEgressVerdict } | undefined;
  /** Towards the kube-dns IP. Pod/namespace selector rules count as `podPeersOnly`: they may select CoreDNS pods. */
  kubeDns?: { ip: string; verdict: DnsEgressVerdict } | undefined;
  /** When the cache is blocked: a NetworkPolicy that lets these pods reach it, ready to apply. */
  fix?: string | undefined;
}

export interface PodIdentityInput {
  namespace: string;
  namespaceAnnotations: Readonly<Record<string, string>>;
  /** The pod's labels as admitted. */
  labels: Readonly<Record<string, string>>;
}

/** `"true"` asserts; anything but `"false"` is ignored with a warning (and counted, when lists are given). */
function readReachable(
  annotations: Readonly<Record<string, string>>,
  warnings?: WarningList,
  invalid?: IgnoredAnnotation[],
): boolean {
  const key = ANNOTATIONS.nodeLocalReachable;
  const value = annotations[key];
  if (value === undefined) return false;
  const v = value.trim();
  if (v === 'true') return true;
  if (v !== 'false') {
    warnings?.add(`dns-tuner: ignored namespace annotation ${key}=${describeValue(value)}: must be "true" or "false"`);
    invalid?.push(ignoredAnnotation(key, 'namespace-annotation', value, 'invalid'));
  }
  return false;
}

/**
 * The podSelector for the allowing policy: that of a policy which already isolates the pod, so the new policy
 * selects no pod that was not isolated before (which would cut its other egress). The empty selector when one of
 * them has it: it covers the most pods.
 */
function fixSelector(policies: readonly NetworkPolicy[], selectedBy: readonly PolicyRef[]): LabelSelector {
  const names = new Set(selectedBy.map((ref) => ref.name));
  let first: LabelSelector | undefined;
  for (const policy of policies) {
    if (!names.has(policy.name)) continue;
    const selector = policy.podSelector;
    if (Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0) return SELECT_ALL;
    first ??= selector;
  }
  return first ?? SELECT_ALL;
}

/** What the NetworkPolicies selecting the pod let through (linear in the namespace's policies). */
export function podDnsEgress(view: ClusterView, facts: ClusterFacts | undefined, pod: PodIdentityInput): PodDnsEgress {
  const asserted = readReachable(pod.namespaceAnnotations);
  const policies = facts?.networkPolicies;
  if (policies === undefined) return { asserted };
  const identity = { namespace: pod.namespace, labels: pod.labels };
  const towards = (ip: string | undefined) => {
    const address = ip === undefined ? undefined : parseIp(ip);
    return address === undefined || ip === undefined
      ? undefined
      : { ip, verdict: evaluateDnsEgress(policies, identity, address) };
  };
  const cache = towards(view.nodeLocal.ip);
  const kubeDns = towards(view.clusterDNS.value);
  const blocked = cache !== undefined && !cache.verdict.udp.allowed;
  const fix = blocked
    ? allowDnsPolicyYaml(pod.namespace, [parseIp(cache.ip)!], fixSelector(policies, cache.verdict.selectedBy))
    : undefined;
  return { asserted, cache, kubeDns, fix };
}

/** The selecting policies for a warning, which must fit 120 characters: `shop/deny (+2)`. */
function firstPolicy(verdict: DnsEgressVerdict): string {
  const first = verdict.selectedBy[0];
  const more = verdict.selectedCount - 1;
  return `${first === undefined ? '' : `${first.namespace}/${first.name}`}${more > 0 ? ` (+${more})` : ''}`;
}

/** Every selecting policy named (at most MAX_REFS), for the report's message. */
function allPolicies(verdict: DnsEgressVerdict): string {
  const names = verdict.selectedBy.map((ref) => `${ref.namespace}/${ref.name}`).join(', ');
  const more = verdict.selectedCount - verdict.selectedBy.length;
  return `${names}${more > 0 ? ` and ${more} more` : ''}`;
}

export interface NodeLocalDecline {
  reason: NodeLocalDeclinedReason;
  message: string;
}

export interface NodeLocalCheckInput extends PodIdentityInput {
  view: ClusterView;
  facts: ClusterFacts | undefined;
  /** The settings ask for the kube-dns fallback (the node-local form then writes the kube-dns IP). */
  fallback: boolean;
}

/**
 * For a pod whose settings ask for node-local (and a configured nodeLocalDNS): undefined when it may be pointed at
 * the cache, else why it gets the options only. In order: the node-local mode, what the config contradicts, the
 * NetworkPolicies. Warnings go to `warnings` for the reasons a person must act on (not for transparent mode or `off`,
 * which are how the cluster is meant to work).
 */
export function checkNodeLocal(
  input: NodeLocalCheckInput,
  warnings: WarningList,
  invalid: IgnoredAnnotation[],
): NodeLocalDecline | undefined {
  const { view } = input;
  const nodeLocal = view.nodeLocal;
  const decline = (reason: NodeLocalDeclinedReason, message: string, warning?: string): NodeLocalDecline => {
    if (warning !== undefined) warnings.add(`dns-tuner: options only: ${warning}`);
    return { reason, message };
  };
  switch (nodeLocal.mode) {
    case 'off':
      return decline('node-local-off', 'the config sets nodeLocalMode off');
    case 'transparent': {
      const by = nodeLocal.cache === undefined ? 'the config sets nodeLocalMode transparent' : nodeLocal.from;
      return decline(
        'node-local-transparent',
        `NodeLocal DNSCache answers the kube-dns IP itself (transparent mode: ${by})`,
      );
    }
    case 'absent': {
      const message = `no NodeLocal DNSCache serves ${nodeLocal.ip}`;
      return decline('node-local-unavailable', `${message}: ${nodeLocal.from}`, message);
    }
    case 'link-local':
      if (nodeLocal.available === false) {
        const cache = nodeLocal.cache!;
        const message = `NodeLocal DNSCache ${cache.daemonSet} has no available pod (${cache.pods.available}/${cache.pods.desired})`;
        return decline('node-local-unavailable', message, message);
      }
      break;
    case 'not-configured':
      return undefined;
  }
  const domain = view.clusterDomain;
  if (domain.mismatch !== undefined) {
    const warning = `config clusterDomain is not the cluster's (${domain.value})`;
    return decline('cluster-dns-mismatch', domain.mismatch, warning);
  }
  const kubeDns = view.clusterDNS;
  if (input.fallback && kubeDns.mismatch !== undefined) {
    const warning = `config clusterDNS is not the kube-dns Service IP (${kubeDns.value})`;
    return decline('cluster-dns-mismatch', kubeDns.mismatch, warning);
  }
  if (readReachable(input.namespaceAnnotations, warnings, invalid)) return undefined;
  const policies = input.facts?.networkPolicies;
  const address = nodeLocal.ip === undefined ? undefined : parseIp(nodeLocal.ip);
  if (policies === undefined || address === undefined) return undefined;
  const verdict = evaluateDnsEgress(policies, { namespace: input.namespace, labels: input.labels }, address);
  const one = verdict.selectedCount === 1;
  if (!verdict.udp.allowed) {
    return decline(
      'node-local-blocked-by-networkpolicy',
      `NetworkPolic${one ? 'y' : 'ies'} ${allPolicies(verdict)} block${one ? 's' : ''} DNS (UDP 53) to node-local ${nodeLocal.ip}`,
      `NetworkPolicy ${firstPolicy(verdict)} blocks DNS to node-local ${nodeLocal.ip}`,
    );
  }
  if (!verdict.tcp.allowed) {
    warnings.add(
      `dns-tuner: NetworkPolicy ${firstPolicy(verdict)} blocks TCP 53 to node-local ${nodeLocal.ip}: large answers fail`,
    );
  }
  return undefined;
}
