/**
 * A NamespaceSource over namespaces already read (`dns-tuner audit` lists them once): no watch, no I/O. A name it
 * was not given is not found, as a namespace created after the list would be for the webhook's cache.
 */
import type { NamespaceInfo } from '../core/types.ts';
import type { NamespaceLookup, NamespaceSource } from './source.ts';

export function createFixedNamespaceSource(namespaces: Iterable<NamespaceInfo>): NamespaceSource {
  const byName = new Map<string, NamespaceInfo>();
  for (const info of namespaces) byName.set(info.name, info);
  return {
    async lookup(name): Promise<NamespaceLookup> {
      const info = byName.get(name);
      return info === undefined ? { found: false } : { found: true, namespace: info };
    },
    status: () => ({ ready: true, size: byName.size }),
    entries: () => byName.values(),
    async start() {},
    async stop() {},
  };
}
