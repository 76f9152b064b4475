/**
 * ClusterFacts built from API objects the way both adapters build them (src/cluster/objects.ts projections, then
 * `assembleFacts`), so engine tests start from what the API server would hold, not from hand-made facts.
 */
import type { ObjectInput } from '../../lab/fake-kube-api.ts';
import {
  assembleFacts,
  FACT_OF_RESOURCE,
  type FactResource,
  groupByNamespace,
  projectConfigMap,
  projectDaemonSet,
  projectNetworkPolicy,
  projectService,
} from '../../src/cluster/objects.ts';
import type { ClusterFacts, DaemonSetView } from '../../src/core/cluster.ts';
import type { NetworkPolicy } from '../../src/core/network-policy.ts';
import { DEFAULT_DISCOVERY, type Discovery } from '../../src/core/types.ts';

export interface ClusterObjects {
  services?: ObjectInput[];
  configMaps?: ObjectInput[];
  daemonSets?: ObjectInput[];
  networkPolicies?: ObjectInput[];
}

const keyOf = (o: ObjectInput) => `${o.metadata.namespace}/${o.metadata.name}`;

/** The facts for a pod of `namespace`; a kind left out is not known (as when the API refuses it). */
export function factsOf(
  objects: ClusterObjects,
  namespace = 'shop',
  discovery: Discovery = DEFAULT_DISCOVERY,
): ClusterFacts {
  const unknown: ClusterFacts['unknown'] = {};
  const missing = (resource: FactResource, present: unknown) => {
    if (present === undefined) unknown[FACT_OF_RESOURCE[resource]] = `no ${resource} in the test`;
  };
  missing('services', objects.services);
  missing('configmaps', objects.configMaps);
  missing('daemonsets', objects.daemonSets);
  missing('networkpolicies', objects.networkPolicies);
  const policies = objects.networkPolicies
    ?.map(projectNetworkPolicy)
    .filter((p): p is NetworkPolicy => p !== undefined);
  const byNamespace = policies === undefined ? undefined : groupByNamespace(policies);
  return assembleFacts(
    discovery,
    {
      origin: 'the test',
      services: objects.services && new Map(objects.services.map((o) => [keyOf(o), projectService(o)])),
      configMaps: objects.configMaps && new Map(objects.configMaps.map((o) => [keyOf(o), projectConfigMap(o)])),
      daemonSets: objects.daemonSets?.map(projectDaemonSet).filter((ds): ds is DaemonSetView => ds !== undefined),
      policiesOf: byNamespace && ((ns) => byNamespace.get(ns) ?? []),
      unknown,
    },
    namespace,
  );
}
