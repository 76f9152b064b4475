/**
 * What the cluster-facts adapters keep of each object (only what decisions need: a Service's cluster IPs, a
 * Corefile's zones, a node-cache DaemonSet's `-localip` and status, a NetworkPolicy's selection and egress rules),
 * and how both adapters — the API server's caches and the offline file — assemble `ClusterFacts` from what they keep.
 */
import { type ClusterFact, type ClusterFacts, type DaemonSetView, localIpFlag } from '../core/cluster.ts';
import { type NetworkPolicy, SELECT_ALL } from '../core/network-policy.ts';
import type { Discovery, ObjectRef } from '../core/types.ts';
import {
  configMapZones,
  daemonSetView,
  networkPolicy,
  type Projection,
  serviceClusterIps,
} from '../kube/cluster-objects.ts';

/** The kinds the facts are read from, by the plural the API (and the metrics' `resource` label) uses. */
export const FACT_RESOURCES = ['services', 'configmaps', 'daemonsets', 'networkpolicies'] as const;
export type FactResource = (typeof FACT_RESOURCES)[number];

/** Which fact each resource gives. */
export const FACT_OF_RESOURCE = {
  services: 'kubeDns',
  configmaps: 'coreDns',
  daemonsets: 'nodeLocalDaemonSets',
  networkpolicies: 'networkPolicies',
} as const satisfies Record<FactResource, ClusterFact>;

export interface ServiceEntry {
  ips: string[];
}

export interface ConfigMapEntry {
  /** The Corefile's `kubernetes` zones; empty without a Corefile. */
  zones: string[];
}

export function refKey(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function value<T>(projection: Projection<T>): T {
  if (!projection.ok) throw new Error(projection.error);
  return projection.value;
}

export function projectService(raw: unknown): ServiceEntry {
  return { ips: value(serviceClusterIps(raw)) };
}

export function projectConfigMap(raw: unknown): ConfigMapEntry {
  return { zones: value(configMapZones(raw)) ?? [] };
}

/**
 * A DaemonSet that runs node-cache, reduced to its `-localip` and its status; undefined for any other DaemonSet (not
 * kept: a cluster has dozens, and only the cache matters).
 */
export function projectDaemonSet(raw: unknown): DaemonSetView | undefined {
  const ds = value(daemonSetView(raw));
  for (const container of ds.containers) {
    const flag = localIpFlag(container);
    if (flag === undefined) continue;
    return { ...ds, containers: [{ name: container.name, command: [], args: ['-localip', flag] }] };
  }
  return undefined;
}

/**
 * A NetworkPolicy that isolates for egress; undefined (not kept) for an ingress-only one, which never bears on where
 * a pod's DNS may go. Throws when the object does not read as a NetworkPolicy; the message names the object, the
 * field and the value.
 */
export function projectNetworkPolicy(raw: unknown): NetworkPolicy | undefined {
  const policy = value(networkPolicy(raw));
  return policy.policyTypes.includes('Egress') ? policy : undefined;
}

/**
 * What stands in for a NetworkPolicy that does not read (the apiserver validated it, so only a field this reader is
 * stricter about can cause it): a policy isolating every pod of its namespace and allowing nothing. Node-local pods
 * there get the options only — never worse than untouched — and the warning names the policy.
 */
export function unreadablePolicy(namespace: string, name: string): NetworkPolicy {
  return { namespace, name, podSelector: SELECT_ALL, policyTypes: ['Egress'], egress: [] };
}

/** What an adapter holds; a kind it could not read is undefined, with the reason in `unknown`. */
export interface FactStores {
  /** `the cluster`, `file cluster.yaml`. */
  origin: string;
  services?: ReadonlyMap<string, ServiceEntry> | undefined;
  configMaps?: ReadonlyMap<string, ConfigMapEntry> | undefined;
  daemonSets?: Iterable<DaemonSetView> | undefined;
  /** The NetworkPolicies of one namespace. */
  policiesOf?: ((namespace: string) => NetworkPolicy[]) | undefined;
  unknown: Partial<Record<ClusterFact, string>>;
}

/** The facts for a pod of `namespace`, from the objects `discovery` names. Linear in the DaemonSets kept. */
export function assembleFacts(discovery: Discovery, stores: FactStores, namespace: string): ClusterFacts {
  const facts: ClusterFacts = { origin: stores.origin, unknown: stores.unknown };
  if (stores.services !== undefined) {
    const service = refKey(discovery.kubeDnsService);
    const entry = stores.services.get(service);
    facts.kubeDns = { service, found: entry !== undefined, ips: entry?.ips ?? [] };
  }
  if (stores.configMaps !== undefined) {
    const configMap = refKey(discovery.coreDnsConfigMap);
    const entry = stores.configMaps.get(configMap);
    facts.coreDns = { configMap, found: entry !== undefined, zones: entry?.zones ?? [] };
  }
  if (stores.daemonSets !== undefined) {
    const daemonSets: DaemonSetView[] = [];
    for (const ds of stores.daemonSets) if (ds.namespace === discovery.nodeLocalNamespace) daemonSets.push(ds);
    facts.nodeLocalDaemonSets = daemonSets;
  }
  if (stores.policiesOf !== undefined) facts.networkPolicies = stores.policiesOf(namespace);
  return facts;
}

/** NetworkPolicies grouped by namespace, so a review reads its own namespace's only. */
export function groupByNamespace(policies: Iterable<NetworkPolicy>): Map<string, NetworkPolicy[]> {
  const byNamespace = new Map<string, NetworkPolicy[]>();
  for (const policy of policies) {
    const list = byNamespace.get(policy.namespace);
    if (list === undefined) byNamespace.set(policy.namespace, [policy]);
    else list.push(policy);
  }
  return byNamespace;
}
