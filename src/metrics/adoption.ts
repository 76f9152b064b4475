/**
 * `dns_tuner_namespaces{policy,mode}`: how far dns-tuner is rolled out — the namespaces the source knows that carry
 * the `dns-tuner.io/policy` label, by policy and effective mode, counted at scrape time from the source and the
 * config in force (so a relabel or a config reload shows at the next scrape). One pass over the namespaces per
 * scrape; the label values are bounded like the reviews' `policy` label: a configured policy name or `unknown`.
 */
import { Gauge, type Registry } from 'prom-client';
import { ANNOTATIONS, parseRefinement } from '../core/annotations.ts';
import { type Config, LABEL_POLICY, type Mode, type NamespaceInfo } from '../core/types.ts';
import { WarningList } from '../core/warnings.ts';
import type { NamespaceSource } from '../namespaces/source.ts';

export const UNKNOWN_POLICY = 'unknown';
const MODES: readonly Mode[] = ['enforce', 'dry-run'];

export interface AdoptionRow {
  policy: string;
  mode: Mode;
  namespaces: number;
}

/**
 * The counts, with a row (possibly 0) for every configured policy in both modes, so a dashboard shows a policy nobody
 * uses yet; `unknown` rows only when a namespace names a policy the config does not have.
 */
export function countAdoption(config: Config, namespaces: Iterable<NamespaceInfo>): AdoptionRow[] {
  const byMode = new Map<Mode, Map<string, number>>(MODES.map((mode) => [mode, new Map()]));
  for (const policy of Object.keys(config.policies)) for (const counts of byMode.values()) counts.set(policy, 0);
  for (const namespace of namespaces) {
    const name = namespace.labels[LABEL_POLICY];
    if (name === undefined) continue;
    const policy = Object.hasOwn(config.policies, name) ? name : UNKNOWN_POLICY;
    const counts = byMode.get(namespaceMode(config, namespace))!;
    counts.set(policy, (counts.get(policy) ?? 0) + 1);
  }
  const rows: AdoptionRow[] = [];
  for (const [mode, counts] of byMode) for (const [policy, n] of counts) rows.push({ policy, mode, namespaces: n });
  return rows;
}

/**
 * The mode a plain pod of the namespace gets: dry-run wins, whether the config or the namespace annotation says it
 * (src/core/settings.ts, refineMode). A bad annotation value is ignored, as for pods.
 */
function namespaceMode(config: Config, namespace: NamespaceInfo): Mode {
  if (config.mode === 'dry-run' || namespace.annotations[ANNOTATIONS.mode] === undefined) return config.mode;
  return parseRefinement(namespace.annotations, 'namespace', new WarningList()).refinement.mode ?? config.mode;
}

export interface AdoptionSources {
  config: () => Config;
  namespaces: Pick<NamespaceSource, 'entries'>;
}

export function createAdoptionMetrics(registry: Registry, sources: AdoptionSources): void {
  new Gauge({
    name: 'dns_tuner_namespaces',
    help:
      'Namespaces labelled dns-tuner.io/policy, by policy (a configured name, or unknown) and effective mode ' +
      '(enforce, dry-run).',
    labelNames: ['policy', 'mode'] as const,
    registers: [registry],
    collect() {
      // Rebuilt at every scrape: a policy removed by a config reload must not linger as a stale series.
      this.reset();
      for (const row of countAdoption(sources.config(), sources.namespaces.entries())) {
        this.set({ policy: row.policy, mode: row.mode }, row.namespaces);
      }
    },
  });
}
