/**
 * An in-memory NamespaceSource holding N synthetic namespaces, for measuring how the webhook's cost and memory grow
 * with the size of the namespace cache. It keeps exactly what the cluster watch cache keeps per namespace
 * (`toNamespaceInfo(metadata)` in a Map), built from metadata shaped like a real cluster's: the
 * kubernetes.io/metadata.name label, team/environment labels, a few unrelated annotations (dropped by
 * toNamespaceInfo, as in the real cache) and the dns-tuner.io/* keys.
 */
import type { NamespaceInfo } from '../src/core/types.ts';
import {
  type NamespaceLookup,
  type NamespaceSource,
  type NamespaceSourceStatus,
  toNamespaceInfo,
} from '../src/namespaces/source.ts';

/** `team-000042`: a DNS label, sortable, 11 characters like many real namespace names. */
export function namespaceName(index: number): string {
  return `team-${String(index).padStart(6, '0')}`;
}

/** Which policy namespace `index` uses: most opt in to `default`, some to `options-only`, some not at all. */
function policyOf(index: number): 'default' | 'options-only' | undefined {
  const slot = index % 20;
  return slot === 0 ? undefined : slot === 1 ? 'options-only' : 'default';
}

/**
 * `count` names of namespaces in the `default` policy, spread evenly over the first `total` (so lookups touch the
 * whole cache, not one hot entry); names repeat when `total` has fewer. Needs total ≥ 3.
 */
export function defaultPolicyNamespaces(total: number, count: number): string[] {
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    let index = Math.floor((k * total) / count);
    while (policyOf(index) !== 'default') index = (index + 1) % total;
    names.push(namespaceName(index));
  }
  return names;
}

function metadataOf(index: number): {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const name = namespaceName(index);
  const labels: Record<string, string> = {
    'kubernetes.io/metadata.name': name,
    team: `team-${index % 250}`,
    environment: index % 3 === 0 ? 'production' : 'staging',
  };
  const policy = policyOf(index);
  if (policy !== undefined) labels['dns-tuner.io/policy'] = policy;
  const annotations: Record<string, string> = {
    'scheduler.alpha.kubernetes.io/node-selector': 'node.kubernetes.io/pool=general',
    'example.com/owner': `owner-${index % 1000}@example.com`,
  };
  if (index % 10 === 3) annotations['dns-tuner.io/ndots'] = '2';
  if (index % 10 === 7) annotations['dns-tuner.io/options'] = 'timeout:2';
  return { name, labels, annotations };
}

export function createMemoryNamespaceSource(count: number): NamespaceSource {
  let namespaces: Map<string, NamespaceInfo> | undefined;
  return {
    async start() {
      const map = new Map<string, NamespaceInfo>();
      for (let i = 0; i < count; i++) {
        const info = toNamespaceInfo(metadataOf(i));
        map.set(info.name, info);
      }
      namespaces = map;
    },
    async stop() {
      namespaces = undefined;
    },
    async lookup(name): Promise<NamespaceLookup> {
      if (!namespaces) return { found: false, error: 'in-memory namespace source not started' };
      const namespace = namespaces.get(name);
      return namespace ? { found: true, namespace } : { found: false };
    },
    entries: () => namespaces?.values() ?? [],
    status(): NamespaceSourceStatus {
      return namespaces ? { ready: true, size: namespaces.size } : { ready: false, reason: 'not started', size: 0 };
    },
  };
}
