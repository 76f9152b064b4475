/**
 * The policy configuration, kept current: the file (a mounted ConfigMap) is re-read when it changes; a new version
 * that fails validation is rejected and the last good configuration stays in force, so a bad edit never changes what
 * the webhook does — it shows up in the log and in `dns_tuner_config_reloads_total{result="failed"}` instead.
 */
import { type Config, LABEL_POLICY, type NamespaceInfo } from '../core/types.ts';
import { readSnapshot, watchFiles } from '../watch/files.ts';
import { builtInConfig, ConfigError, configFromFile } from './load.ts';

export interface ConfigReload {
  result: 'ok' | 'failed';
  path: string;
  /** The configuration now in force (the new one on 'ok', the previous one on 'failed'). */
  config: Config;
  /** Why the new file was rejected (names file, line, field and value). */
  error?: string | undefined;
}

export interface ConfigWatcher {
  /** The configuration in force: the last one that validated. */
  current(): Config;
  close(): void;
}

export interface ConfigWatchOptions {
  /** Called after each reload attempt (never for the initial load). Must not throw. */
  onReload?: ((reload: ConfigReload) => void) | undefined;
  pollIntervalMs?: number | undefined;
}

/**
 * The policies `next` no longer has. Namespaces still labelled with one get `unknown-policy` (their new pods are left
 * unchanged) from the moment the reload succeeds: the caller should say so loudly, with the namespaces that select it.
 */
export function removedPolicies(previous: Config, next: Config): string[] {
  return Object.keys(previous.policies).filter((name) => !Object.hasOwn(next.policies, name));
}

/** At most this many namespace names in the warning about a removed policy (the count says the rest). */
export const MAX_NAMESPACES_NAMED = 20;

/**
 * The namespaces that select one of `removed` policies by their `dns-tuner.io/policy` label: after the reload their
 * pods are left alone (`unknown-policy`). One pass; at most MAX_NAMESPACES_NAMED names kept, all counted.
 */
export function namespacesLosingPolicy(
  removed: readonly string[],
  namespaces: Iterable<NamespaceInfo>,
): { names: string[]; count: number } {
  const gone = new Set(removed);
  const names: string[] = [];
  let count = 0;
  if (gone.size === 0) return { names, count };
  for (const namespace of namespaces) {
    const policy = namespace.labels[LABEL_POLICY];
    if (policy === undefined || !gone.has(policy)) continue;
    count++;
    if (names.length < MAX_NAMESPACES_NAMED) names.push(namespace.name);
  }
  return { names, count };
}

/** The built-in configuration (no --config): nothing to watch. */
export function staticConfig(config: Config = builtInConfig()): ConfigWatcher {
  return { current: () => config, close() {} };
}

/**
 * Loads `path` and keeps watching it. Throws a ConfigError when the file is missing or invalid at start: there is no
 * last good configuration to fall back on yet.
 */
export async function watchConfig(path: string, opts: ConfigWatchOptions = {}): Promise<ConfigWatcher> {
  const baseline = await readSnapshot([path]);
  const first = configFromFile(baseline[0], path);
  if (!first.ok) throw new ConfigError(first.error);
  let config = first.config;

  const watch = watchFiles({
    paths: [path],
    baseline,
    pollIntervalMs: opts.pollIntervalMs,
    onChange(snapshot) {
      const next = configFromFile(snapshot[0], path);
      if (next.ok) config = next.config;
      opts.onReload?.(next.ok ? { result: 'ok', path, config } : { result: 'failed', path, config, error: next.error });
    },
  });
  return { current: () => config, close: () => watch.close() };
}
