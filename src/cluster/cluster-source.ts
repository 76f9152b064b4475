/**
 * The cluster facts from the API server: one list+watch cache (../kube/list-watch.ts: atomic relist, relist on 410,
 * inactivity timeout, staleness) per resource, each keeping only what decisions need (./objects.ts):
 *
 * - the kube-dns Service (`GET …/namespaces/kube-system/services?fieldSelector=metadata.name=kube-dns`),
 * - the CoreDNS ConfigMap (the same way: never every ConfigMap of kube-system),
 * - the DaemonSets of the node-local namespace (only those running node-cache are kept),
 * - every NetworkPolicy of every namespace, grouped by namespace when a review asks.
 *
 * A resource the API refuses (403: no RBAC for it) is not a failure: its fact is not checked and the config is
 * trusted for it, the observer hears `onForbidden`, and the cache keeps retrying in case the RBAC appears. Readiness
 * waits for every resource to have listed or been refused.
 *
 * No logger here: everything observable goes through the observer, `lastHeardAt` and `forbidden`.
 */
import type { ClusterFact, ClusterFacts, DaemonSetView } from '../core/cluster.ts';
import type { NetworkPolicy } from '../core/network-policy.ts';
import type { Discovery } from '../core/types.ts';
import { type ApiClient, ApiError } from '../kube/api-client.ts';
import {
  createListWatchCache,
  type ListWatchCache,
  type ListWatchObserver,
  type ListWatchTiming,
  type RelistReason,
  type SyncInfo,
  type WatchEventType,
  type WatchRestartReason,
} from '../kube/list-watch.ts';
import {
  assembleFacts,
  type ConfigMapEntry,
  FACT_OF_RESOURCE,
  FACT_RESOURCES,
  type FactResource,
  type FactStores,
  groupByNamespace,
  projectConfigMap,
  projectDaemonSet,
  projectNetworkPolicy,
  projectService,
  type ServiceEntry,
  unreadablePolicy,
} from './objects.ts';
import type { ClusterFactsSource, ClusterFactsStatus } from './source.ts';

/** How the source reports, per resource; every callback is optional and must not throw (exceptions are swallowed). */
export interface ClusterFactsObserver {
  onRelist?(resource: FactResource, reason: RelistReason): void;
  onSynced?(resource: FactResource, info: SyncInfo): void;
  onWatchRestart?(resource: FactResource, reason: WatchRestartReason, detail?: string): void;
  onEvent?(resource: FactResource, type: WatchEventType): void;
  onError?(resource: FactResource, error: Error, phase: 'list' | 'watch' | 'object'): void;
  /** The API started (true) or stopped (false) refusing to list the resource. */
  onForbidden?(resource: FactResource, forbidden: boolean, detail: string): void;
}

export interface ClusterFactsCacheSource extends ClusterFactsSource {
  /** Epoch ms the resource's cache last heard from the API server (list, event or bookmark). */
  lastHeardAt(resource: FactResource): number | undefined;
  /** The API refuses to list the resource (its fact is not checked). */
  forbidden(resource: FactResource): boolean;
  /** Objects kept (node-cache DaemonSets only, for daemonsets). */
  size(resource: FactResource): number;
}

export interface ClusterFactsSourceOptions extends ListWatchTiming {
  client: ApiClient;
  /** Read once: changing these names takes a restart (and a Role in the namespaces they name). */
  discovery: Discovery;
  observer?: ClusterFactsObserver | undefined;
}

const ORIGIN = 'the cluster';

function call<K extends keyof ClusterFactsObserver>(
  observer: ClusterFactsObserver,
  key: K,
  ...args: Parameters<NonNullable<ClusterFactsObserver[K]>>
): void {
  try {
    (observer[key] as ((...a: unknown[]) => void) | undefined)?.(...args);
  } catch {
    // One observer's bug must not break a cache.
  }
}

interface Tracked {
  cache: ListWatchCache<unknown>;
  synced: boolean;
  forbidden: string | undefined;
  settled: PromiseWithResolvers<void>;
}

export function createClusterFactsSource(opts: ClusterFactsSourceOptions): ClusterFactsCacheSource {
  const { client, discovery } = opts;
  const observer = opts.observer ?? {};
  const listeners: Array<() => void> = [];
  let notifyQueued = false;
  // The watch reports an event just before it applies it: listeners run once the store holds it.
  const changed = () => {
    baseDirty = true;
    if (notifyQueued) return;
    notifyQueued = true;
    queueMicrotask(() => {
      notifyQueued = false;
      for (const listener of listeners) {
        try {
          listener();
        } catch {
          // A listener's bug must not break the caches.
        }
      }
    });
  };
  let policiesDirty = true;
  // What every review shares (all but the NetworkPolicies), rebuilt on the first review after a change.
  let baseDirty = true;
  let base: ClusterFacts | undefined;
  let policiesByNamespace = new Map<string, NetworkPolicy[]>();

  const tracked = {} as Record<FactResource, Tracked>;
  const lifetime = new AbortController();

  function track<T>(resource: FactResource, build: (events: ListWatchObserver) => ListWatchCache<T>): void {
    const state: Tracked = {
      cache: undefined as unknown as ListWatchCache<unknown>,
      synced: false,
      forbidden: undefined,
      settled: Promise.withResolvers<void>(),
    };
    const setForbidden = (detail: string | undefined) => {
      if ((state.forbidden === undefined) === (detail === undefined)) return;
      state.forbidden = detail;
      call(observer, 'onForbidden', resource, detail !== undefined, detail ?? 'listed');
      changed();
    };
    state.cache = build({
      onRelist: (reason) => call(observer, 'onRelist', resource, reason),
      onSynced: (info) => {
        state.synced = true;
        if (resource === 'networkpolicies') policiesDirty = true;
        setForbidden(undefined);
        state.settled.resolve();
        call(observer, 'onSynced', resource, info);
        changed();
      },
      onWatchRestart: (reason, detail) => call(observer, 'onWatchRestart', resource, reason, detail),
      onEvent: (type) => {
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          if (resource === 'networkpolicies') policiesDirty = true;
          changed();
        }
        call(observer, 'onEvent', resource, type);
      },
      onError: (error, phase) => {
        if (error instanceof ApiError && error.status === 403) {
          setForbidden(error.message);
          state.settled.resolve();
        }
        call(observer, 'onError', resource, error, phase);
      },
    }) as ListWatchCache<unknown>;
    tracked[resource] = state;
  }

  const ns = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
  const byName = (name: string) => `metadata.name=${name}`;
  const service = discovery.kubeDnsService;
  const configMap = discovery.coreDnsConfigMap;
  track<ServiceEntry>('services', (events) =>
    createListWatchCache({
      ...opts,
      client,
      path: `${ns(service.namespace)}/services`,
      fieldSelector: byName(service.name),
      name: `kube-dns Service ${service.namespace}/${service.name} cache`,
      project: projectService,
      observer: events,
    }),
  );
  track<ConfigMapEntry>('configmaps', (events) =>
    createListWatchCache({
      ...opts,
      client,
      path: `${ns(configMap.namespace)}/configmaps`,
      fieldSelector: byName(configMap.name),
      name: `CoreDNS ConfigMap ${configMap.namespace}/${configMap.name} cache`,
      project: projectConfigMap,
      observer: events,
    }),
  );
  track<DaemonSetView>('daemonsets', (events) =>
    createListWatchCache({
      ...opts,
      client,
      path: `/apis/apps/v1/namespaces/${encodeURIComponent(discovery.nodeLocalNamespace)}/daemonsets`,
      name: `DaemonSet cache (${discovery.nodeLocalNamespace})`,
      project: projectDaemonSet,
      observer: events,
    }),
  );
  track<NetworkPolicy>('networkpolicies', (events) =>
    createListWatchCache({
      ...opts,
      client,
      path: '/apis/networking.k8s.io/v1/networkpolicies',
      name: 'NetworkPolicy cache',
      project: (raw) => {
        try {
          return projectNetworkPolicy(raw);
        } catch (error) {
          // One policy this reader is stricter about than the apiserver must not stop the whole cache.
          const metadata = (raw as { metadata: { namespace?: string; name: string } }).metadata;
          call(observer, 'onError', 'networkpolicies', error as Error, 'object');
          return unreadablePolicy(metadata.namespace ?? '', metadata.name);
        }
      },
      observer: events,
    }),
  );

  const known = (resource: FactResource) => tracked[resource].synced && tracked[resource].forbidden === undefined;

  function policiesOf(namespace: string): NetworkPolicy[] {
    if (policiesDirty) {
      policiesByNamespace = groupByNamespace(
        (function* () {
          for (const [, policy] of tracked.networkpolicies.cache.entries()) yield policy as NetworkPolicy;
        })(),
      );
      policiesDirty = false;
    }
    return policiesByNamespace.get(namespace) ?? [];
  }

  /** All but the NetworkPolicies (`policiesOf` is added per namespace). */
  function stores(): FactStores {
    const unknown: Partial<Record<ClusterFact, string>> = {};
    for (const resource of FACT_RESOURCES) {
      if (known(resource)) continue;
      const state = tracked[resource];
      unknown[FACT_OF_RESOURCE[resource]] =
        state.forbidden !== undefined ? `the API refuses it (${state.forbidden})` : `${resource} not listed yet`;
    }
    const entries = <T>(resource: FactResource) =>
      new Map(tracked[resource].cache.entries() as IterableIterator<[string, T]>);
    return {
      origin: ORIGIN,
      services: known('services') ? entries<ServiceEntry>('services') : undefined,
      configMaps: known('configmaps') ? entries<ConfigMapEntry>('configmaps') : undefined,
      daemonSets: known('daemonsets')
        ? [...(tracked.daemonsets.cache.entries() as IterableIterator<[string, DaemonSetView]>)].map(([, ds]) => ds)
        : undefined,
      unknown,
    };
  }

  return {
    facts(namespace) {
      if (baseDirty || base === undefined) {
        base = assembleFacts(discovery, stores(), '');
        baseDirty = false;
      }
      return known('networkpolicies') ? { ...base, networkPolicies: policiesOf(namespace) } : base;
    },

    status(): ClusterFactsStatus {
      const failing: string[] = [];
      for (const resource of FACT_RESOURCES) {
        const state = tracked[resource];
        if (state.forbidden !== undefined) continue;
        const status = state.cache.status();
        if (!status.ready) failing.push(status.reason ?? `${resource} not ready`);
      }
      return failing.length === 0 ? { ready: true } : { ready: false, reason: failing.join('; ') };
    },

    start(): Promise<void> {
      if (lifetime.signal.aborted) return Promise.reject(new Error('cluster facts source is stopped'));
      const stopped = new Promise<void>((_, reject) => {
        lifetime.signal.addEventListener(
          'abort',
          () => reject(new Error('cluster facts source stopped before every resource listed')),
          { once: true },
        );
      });
      for (const resource of FACT_RESOURCES) {
        // A cache that never lists (403 forever) never resolves its own start(): settled stands in for it.
        tracked[resource].cache.start().catch(() => {});
      }
      return Promise.race([Promise.all(FACT_RESOURCES.map((r) => tracked[r].settled.promise)).then(() => {}), stopped]);
    },

    async stop(): Promise<void> {
      lifetime.abort();
      await Promise.all(FACT_RESOURCES.map((resource) => tracked[resource].cache.stop()));
    },

    onChange(listener) {
      listeners.push(listener);
    },

    lastHeardAt: (resource) => tracked[resource].cache.lastHeardAt(),
    forbidden: (resource) => tracked[resource].forbidden !== undefined,
    size: (resource) => tracked[resource].cache.size,
  };
}
