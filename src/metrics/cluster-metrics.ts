/**
 * Metrics for what dns-tuner knows of the cluster's DNS (docs/adr/0010-cluster-aware-decisions.md): the values in
 * force (an info gauge), whether the node-local cache is available, where the config contradicts the cluster, and —
 * for the API server's caches — how fresh each resource is, how often its watch restarted, and whether the API refuses
 * it. The gauges read the config and the facts at scrape time, through the engine's own rules, so they say what the
 * next review would decide on. The caches never import prom-client: they report through the observer.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterFactsCacheSource, ClusterFactsObserver } from '../cluster/cluster-source.ts';
import { FACT_RESOURCES } from '../cluster/objects.ts';
import type { ClusterFactsReader } from '../cluster/source.ts';
import { type ClusterView, clusterView, MISMATCH_FIELDS, mismatches } from '../core/cluster-rules.ts';
import type { Config } from '../core/types.ts';
import { WATCH_RESTART_REASONS } from '../kube/list-watch.ts';

export interface ClusterMetrics {
  /** For the API server's caches (`observer` option): they exist after it. */
  observer: ClusterFactsObserver;
  /**
   * What the gauges read, and for the API server's caches (`caches`; not for the offline file, which has no age) the
   * freshness and RBAC gauges. Call once.
   */
  track(deps: ClusterMetricsDeps, caches?: ClusterFactsCacheSource | undefined): void;
}

export interface ClusterMetricsDeps {
  config: () => Config;
  facts: ClusterFactsReader;
}

/** The view the gauges show: the engine's, for a pod of no namespace (NetworkPolicies play no part). */
export function currentView(deps: ClusterMetricsDeps): ClusterView {
  return clusterView(deps.config(), deps.facts.facts(''));
}

export function createClusterMetrics(registry: Registry): ClusterMetrics {
  const registers = [registry];
  const restarts = new Counter({
    name: 'dns_tuner_cluster_facts_watch_restarts_total',
    help:
      'Cluster-facts watches that ended and were re-opened, by resource (services, configmaps, daemonsets, ' +
      'networkpolicies) and reason (closed, error, expired, inactivity, periodic).',
    labelNames: ['resource', 'reason'] as const,
    registers,
  });
  return {
    observer: { onWatchRestart: (resource, reason) => restarts.inc({ resource, reason }) },
    track(deps, caches) {
      viewGauges(registers, deps);
      if (caches === undefined) return;
      for (const resource of FACT_RESOURCES)
        for (const reason of WATCH_RESTART_REASONS) restarts.inc({ resource, reason }, 0);
      cacheGauges(registers, caches);
    },
  };
}

function viewGauges(registers: Registry[], deps: ClusterMetricsDeps): void {
  new Gauge({
    name: 'dns_tuner_cluster_info',
    help:
      'Always 1; labels carry the kube-dns IP, the cluster domain and the node-local mode in force (configured, ' +
      'discovered or verified: dns-tuner explain says which).',
    labelNames: ['kube_dns_ip', 'cluster_domain', 'node_local_mode'] as const,
    registers,
    collect() {
      const view = currentView(deps);
      this.reset();
      this.set(
        {
          kube_dns_ip: view.clusterDNS.value ?? '',
          cluster_domain: view.clusterDomain.value,
          node_local_mode: view.nodeLocal.mode,
        },
        1,
      );
    },
  });
  new Gauge({
    name: 'dns_tuner_node_local_available',
    help: '1 when a NodeLocal DNSCache serving nodeLocalDNS has an available pod, 0 otherwise (or when not checked).',
    registers,
    collect() {
      this.set(currentView(deps).nodeLocal.available === true ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dns_tuner_cluster_mismatch',
    help: '1 when the configured field (clusterDNS, clusterDomain) contradicts the cluster: it is never written to a pod.',
    labelNames: ['field'] as const,
    registers,
    collect() {
      const found = mismatches(currentView(deps));
      for (const field of MISMATCH_FIELDS) this.set({ field }, found[field] === undefined ? 0 : 1);
    },
  });
}

function cacheGauges(registers: Registry[], source: ClusterFactsCacheSource): void {
  new Gauge({
    name: 'dns_tuner_cluster_facts_last_event_age_seconds',
    help:
      'Seconds since the cluster-facts cache of the resource last heard from the API server (watch event, ' +
      'bookmark or full list); +Inf before the first list. No series while the API refuses the resource ' +
      '(dns_tuner_cluster_facts_forbidden): an install without that RBAC is not stale.',
    labelNames: ['resource'] as const,
    registers,
    collect() {
      this.reset();
      for (const resource of FACT_RESOURCES) {
        if (source.forbidden(resource)) continue;
        const at = source.lastHeardAt(resource);
        const age = at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, (Date.now() - at) / 1000);
        this.set({ resource }, age);
      }
    },
  });
  new Gauge({
    name: 'dns_tuner_cluster_facts_forbidden',
    help: '1 when the API server refuses to list the resource (RBAC): its fact is not checked, the config is trusted.',
    labelNames: ['resource'] as const,
    registers,
    collect() {
      for (const resource of FACT_RESOURCES) this.set({ resource }, source.forbidden(resource) ? 1 : 0);
    },
  });
}
