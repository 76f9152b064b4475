import type { NamespaceInfo } from '../core/types.ts';

/**
 * Where the engine learns a namespace's `dns-tuner.io/*` labels and annotations. Two implementations:
 * the offline file (./file-source.ts, for `npm start` and tests) and the cluster watch cache (./cluster-source.ts).
 */
export type NamespaceLookup =
  | { found: true; namespace: NamespaceInfo }
  /** The source is sure the namespace does not exist (or the file does not list it). */
  | { found: false }
  /** The source could not tell (API unreachable, timeout): admit without change and warn. */
  | { found: false; error: string };

export interface NamespaceSourceStatus {
  /** False until the first full list has synced, and while the cache is staler than its bound. */
  ready: boolean;
  /** Why not ready, for /readyz. */
  reason?: string;
  size: number;
}

export interface NamespaceSource {
  /** Resolves from the cache; a namespace the cache has not seen yet may be fetched directly with a short timeout. */
  lookup(name: string, signal?: AbortSignal): Promise<NamespaceLookup>;
  /**
   * The answer `lookup` would give, when the source has it at hand (a cache hit, a loaded file), or undefined when
   * only `lookup` can tell. Lets a review skip the lookup's deadline timer and promise on the common path.
   */
  cached?(name: string): NamespaceLookup | undefined;
  status(): NamespaceSourceStatus;
  /** Every namespace the source holds now (read at scrape time by the adoption gauge). */
  entries(): Iterable<NamespaceInfo>;
  /** Loads or syncs; resolves once the first full list is in (or rejects if it cannot start at all). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Keeps only what the engine reads: the `dns-tuner.io/*` labels and annotations (a null map counts as empty). */
export function toNamespaceInfo(metadata: {
  name?: string | undefined;
  labels?: Record<string, string> | null | undefined;
  annotations?: Record<string, string> | null | undefined;
}): NamespaceInfo {
  return {
    name: metadata.name ?? '',
    labels: pickOurs(metadata.labels),
    annotations: pickOurs(metadata.annotations),
  };
}

function pickOurs(map: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) if (k.startsWith('dns-tuner.io/')) out[k] = v;
  return out;
}
