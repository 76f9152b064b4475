/**
 * The cluster-backed namespace source: the generic list+watch cache (../kube/list-watch.ts) over
 * `/api/v1/namespaces`, metadata only, keeping `toNamespaceInfo(metadata)` per namespace, plus what only the
 * namespace source does: a direct GET (short timeout, one per name however many pods ask) for a namespace the cache
 * has not seen yet — pods of a brand-new namespace can arrive before its watch event.
 *
 * No logger here: everything observable goes through the `observer` callbacks, `stats()` and `lastHeardAt()`.
 */

import { z } from 'zod';
import type { NamespaceInfo } from '../core/types.ts';
import { createApiClient } from '../kube/api-client.ts';
import { connectionOf, loadKubeConfig } from '../kube/kubeconfig.ts';
import {
  createListWatchCache,
  type ListWatchObserver,
  type ListWatchStats,
  type ListWatchTiming,
} from '../kube/list-watch.ts';
import { fanOut } from '../kube/observers.ts';
import { describeIssues } from '../zod/issues.ts';
import { type NamespaceLookup, type NamespaceSource, type NamespaceSourceStatus, toNamespaceInfo } from './source.ts';

export { KubeConfigError, type LoadKubeConfigOptions, loadKubeConfig } from '../kube/kubeconfig.ts';
export type { RelistReason, WatchEventType, WatchRestartReason } from '../kube/list-watch.ts';

export type DirectGetResult = 'found' | 'not-found' | 'error';
export type SourcePhase = 'list' | 'watch' | 'get';

/** How the source reports; every callback is optional and must not throw (exceptions are swallowed). */
export interface ClusterSourceObserver extends ListWatchObserver {
  /** A cache miss answered by a direct GET. */
  onDirectGet?(result: DirectGetResult): void;
  onError?(error: Error, phase: SourcePhase): void;
}

/**
 * One observer that calls each of `observers` in turn (metrics and logs, say). Every callback is there, and a throw
 * from one observer is swallowed: it neither silences the others nor reaches the caller.
 */
export function combineObservers(...observers: ClusterSourceObserver[]): Required<ClusterSourceObserver> {
  return fanOut<ClusterSourceObserver>(
    ['onRelist', 'onSynced', 'onWatchRestart', 'onEvent', 'onDirectGet', 'onError'],
    observers,
  );
}

/** The loop's state, for tests (counts by reason and result are the observer's business: see runtime-metrics.ts). */
export type ClusterSourceStats = ListWatchStats;

export interface ClusterNamespaceSource extends NamespaceSource {
  /** A cache hit; undefined for a namespace the cache has not seen (lookup() then asks the API). */
  cached(name: string): NamespaceLookup | undefined;
  stats(): ClusterSourceStats;
  /** Epoch ms the cache last heard from the API server: a completed full list, or a watch event or bookmark. */
  lastHeardAt(): number | undefined;
}

export interface ClusterNamespaceSourceOptions extends ListWatchTiming {
  /** `--kubeconfig` (a file or a path list). See `loadKubeConfig`. */
  kubeconfig?: string | undefined;
  /** Where `$KUBECONFIG`, the in-cluster variables and `$HOME` are read. Default process.env. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  observer?: ClusterSourceObserver | undefined;
  /** Timeout of the direct GET on a cache miss. Default 1000 ms. */
  directGetTimeoutMs?: number | undefined;
  /** The clock the not-found memory reads (tests move it). Default Date.now. */
  now?: (() => number) | undefined;
}

const NAMESPACES = '/api/v1/namespaces';

const stringMap = z.record(z.string(), z.string()).nullish();
const namespaceSchema = z.object({
  metadata: z.object({ name: z.string().min(1), labels: stringMap, annotations: stringMap }),
});

/** Only what the engine reads: the `dns-tuner.io/*` labels and annotations (also `dns-tuner audit`'s list). */
export function projectNamespace(object: unknown): NamespaceInfo {
  const parsed = namespaceSchema.safeParse(object);
  if (!parsed.success) throw new Error(describeIssues(parsed.error));
  return toNamespaceInfo(parsed.data.metadata);
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** How long, and for how many names at most, a direct GET's "not found" is remembered. */
export const NOT_FOUND_TTL_MS = 10_000;
export const NOT_FOUND_MAX = 10_000;

export function createClusterNamespaceSource(opts: ClusterNamespaceSourceOptions = {}): ClusterNamespaceSource {
  const client = createApiClient(connectionOf(loadKubeConfig({ kubeconfig: opts.kubeconfig, env: opts.env })));
  const observer = combineObservers(opts.observer ?? {});
  const directGetTimeoutMs = opts.directGetTimeoutMs ?? 1000;
  const cache = createListWatchCache<NamespaceInfo>({
    ...opts,
    client,
    path: NAMESPACES,
    name: 'namespace cache',
    metadataOnly: true,
    project: projectNamespace,
    observer,
  });
  // Ends the direct GETs on stop(); the cache has its own.
  const lifetime = new AbortController();
  const inflight = new Map<string, Promise<NamespaceLookup>>();
  // Names the apiserver said do not exist, until when: the webhook port is open to anyone, and a review (or a
  // GET /dry-run/namespaces/<name>) per random name must not become a GET per name. A namespace created later still
  // shows at once: its ADDED event fills the cache, which is asked first.
  const notFound = new Map<string, number>();
  const now = opts.now ?? Date.now;

  async function fetchNamespace(name: string): Promise<NamespaceLookup> {
    const generation = cache.generation();
    const failed = (why: string): NamespaceLookup => {
      const error = `get namespace "${name}": ${why}`;
      observer.onDirectGet('error');
      observer.onError(new Error(error), 'get');
      return { found: false, error };
    };
    let namespace: NamespaceInfo;
    try {
      const got = await client.get(`${NAMESPACES}/${encodeURIComponent(name)}`, {
        metadataOnly: true,
        timeoutMs: directGetTimeoutMs,
        signal: lifetime.signal,
      });
      if (!got.found) {
        observer.onDirectGet('not-found');
        if (notFound.size >= NOT_FOUND_MAX) notFound.delete(notFound.keys().next().value as string);
        notFound.set(name, now() + NOT_FOUND_TTL_MS);
        return { found: false };
      }
      try {
        namespace = projectNamespace(got.object);
      } catch (error) {
        return failed(`unexpected response: ${errorOf(error).message}`);
      }
    } catch (error) {
      return failed(errorOf(error).message);
    }
    cache.fill(name, namespace, generation);
    observer.onDirectGet('found');
    return { found: true, namespace };
  }

  return {
    cached(name: string): NamespaceLookup | undefined {
      const hit = cache.get(name);
      return hit ? { found: true, namespace: hit } : undefined;
    },

    async lookup(name: string, signal?: AbortSignal): Promise<NamespaceLookup> {
      const hit = cache.get(name);
      if (hit) return { found: true, namespace: hit };
      if (!name) return { found: false };
      if (lifetime.signal.aborted) return { found: false, error: 'namespace source is stopped' };
      const until = notFound.get(name);
      if (until !== undefined) {
        if (until > now()) return { found: false };
        notFound.delete(name);
      }
      // Pods of a brand-new namespace arrive in bursts: one GET answers all of them.
      let pending = inflight.get(name);
      if (!pending) {
        pending = fetchNamespace(name).finally(() => inflight.delete(name));
        inflight.set(name, pending);
      }
      if (!signal) return pending;
      if (signal.aborted) return { found: false, error: 'lookup aborted' };
      const abort = Promise.withResolvers<NamespaceLookup>();
      const onAbort = () => abort.resolve({ found: false, error: 'lookup aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await Promise.race([pending, abort.promise]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },

    status: (): NamespaceSourceStatus => cache.status(),
    start: () => cache.start(),

    async stop(): Promise<void> {
      lifetime.abort();
      await cache.stop();
      await Promise.allSettled([...inflight.values()]);
    },

    stats: () => cache.stats(),
    lastHeardAt: () => cache.lastHeardAt(),
    *entries() {
      for (const [, namespace] of cache.entries()) yield namespace;
    },
  };
}
