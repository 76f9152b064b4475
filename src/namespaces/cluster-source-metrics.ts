/**
 * Prometheus metrics for the cluster namespace source, on a Registry the caller owns. The source itself knows no
 * metrics library: this adapter is an observer plus gauges that read `stats()`/`status()` at scrape time.
 *
 *   const nsMetrics = createClusterSourceMetrics(registry);
 *   const source = createClusterNamespaceSource({ kubeconfig, observer: combineObservers(nsMetrics.observer, logs) });
 *   nsMetrics.track(source);
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterNamespaceSource, ClusterSourceObserver } from './cluster-source.ts';

export interface ClusterSourceMetrics {
  observer: ClusterSourceObserver;
  /** The source the gauges read at scrape time (the observer has to exist before the source does). */
  track(source: ClusterNamespaceSource): void;
}

export function createClusterSourceMetrics(registry: Registry, now: () => number = Date.now): ClusterSourceMetrics {
  const registers = [registry];
  let source: ClusterNamespaceSource | undefined;
  new Gauge({
    name: 'dns_tuner_namespace_cache_size',
    help: 'Namespaces in the watch cache.',
    registers,
    collect() {
      if (source) this.set(source.stats().size);
    },
  });
  new Gauge({
    name: 'dns_tuner_namespace_cache_ready',
    help: '1 when the namespace cache has synced and is not stale (what /readyz reports for it).',
    registers,
    collect() {
      if (source) this.set(source.status().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dns_tuner_namespace_watch_last_event_age_seconds',
    help: 'Seconds since the last namespace watch event or bookmark; absent before the first one.',
    registers,
    collect() {
      this.reset();
      const at = source?.lastEventAt();
      if (at !== undefined) this.set(Math.max(0, (now() - at) / 1000));
    },
  });
  const relists = new Counter({
    name: 'dns_tuner_namespace_relists_total',
    help: 'Full lists of namespaces started, by reason (initial, expired, inactivity, periodic).',
    labelNames: ['reason'] as const,
    registers,
  });
  const restarts = new Counter({
    name: 'dns_tuner_namespace_watch_restarts_total',
    help: 'Namespace watches ended and re-opened, by reason (closed, error, expired, inactivity, periodic).',
    labelNames: ['reason'] as const,
    registers,
  });
  const events = new Counter({
    name: 'dns_tuner_namespace_watch_events_total',
    help: 'Namespace watch events received, by type.',
    labelNames: ['type'] as const,
    registers,
  });
  const directGets = new Counter({
    name: 'dns_tuner_namespace_direct_gets_total',
    help: 'Cache misses answered by a direct GET of the namespace, by result (found, not-found, error).',
    labelNames: ['result'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'dns_tuner_namespace_source_errors_total',
    help: 'Errors of the namespace source, by phase (list, watch, get).',
    labelNames: ['phase'] as const,
    registers,
  });
  return {
    observer: {
      onRelist: (reason) => relists.inc({ reason }),
      onWatchRestart: (reason) => restarts.inc({ reason }),
      onEvent: (type) => events.inc({ type }),
      onDirectGet: (result) => directGets.inc({ result }),
      onError: (_error, phase) => errors.inc({ phase }),
    },
    track(s) {
      source = s;
    },
  };
}
