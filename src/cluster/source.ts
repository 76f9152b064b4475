/**
 * Where the engine learns what the cluster says about DNS (src/core/cluster.ts `ClusterFacts`): the kube-dns
 * Service, the CoreDNS Corefile, the NodeLocal DNSCache DaemonSets and the NetworkPolicies. Two implementations: the
 * API server's list+watch caches (./cluster-source.ts) and the offline file (src/namespaces/file-source.ts, the same
 * file as the namespaces). Both keep only what decisions need (./objects.ts) and assemble the facts the same way.
 */
import type { ClusterFacts } from '../core/cluster.ts';

/** What a review needs: the facts for a pod of `namespace` (its NetworkPolicies only), read synchronously. */
export interface ClusterFactsReader {
  facts(namespace: string): ClusterFacts;
}

export interface ClusterFactsStatus {
  /**
   * False until every resource has synced (or is known to be forbidden: then its fact is not checked and the config
   * is trusted), and while one is staler than its bound.
   */
  ready: boolean;
  /** Why not ready, for /readyz. */
  reason?: string | undefined;
}

export interface ClusterFactsSource extends ClusterFactsReader {
  status(): ClusterFactsStatus;
  /** Loads or syncs; resolves once every resource has listed or is known to be forbidden. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Called (asynchronously, never inside a review) after anything the facts are made of changed. */
  onChange(listener: () => void): void;
}
