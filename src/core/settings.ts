/**
 * Effective settings for one pod: the namespace's policy, refined by namespace annotations, then by pod annotations
 * when the policy allows, then by what the pod author already wrote in `spec.dnsConfig` (which always wins).
 * Every value carries where it came from, for the dry-run endpoint and `explain`.
 */
import {
  ANNOTATIONS,
  type AnnotationKey,
  ignoredAnnotation,
  overrideKeys,
  parseRefinement,
  type Refinement,
} from './annotations.ts';
import { glibcNumber, NUMERIC_OPTIONS, type ResolverOption } from './resolver-options.ts';
import type { Config, IgnoredAnnotation, PodView, Policy, Settings, Source, Sourced } from './types.ts';
import type { WarningList } from './warnings.ts';

export interface ResolvedSettings {
  settings: Settings;
  /** Annotations not taken as written (bounded: at most one per key and place). */
  invalid: IgnoredAnnotation[];
}

export function resolveSettings(
  config: Config,
  policyName: string,
  policy: Policy,
  namespaceAnnotations: Record<string, string>,
  pod: PodView,
  warnings: WarningList,
): ResolvedSettings {
  const settings: Settings = {
    policy: policyName,
    mode: { value: config.mode, source: 'policy', from: 'config mode' },
    ndots: { value: policy.ndots, source: policy.ndots === undefined ? 'built-in' : 'policy', from: policyName },
    options: policy.options.map((option) => ({ value: option, source: 'policy', from: policyName })),
    nodeLocal: { value: policy.nodeLocal, source: 'policy', from: policyName },
    fallback: { value: policy.fallback, source: 'policy', from: policyName },
    podOverrides: { value: policy.podOverrides, source: 'policy', from: policyName },
  };

  const ns = parseRefinement(namespaceAnnotations, 'namespace', warnings);
  const invalid = [...ns.invalid];
  // Keys read in one place only, written in the other: say so rather than ignore them silently.
  const misplaced = (
    key: AnnotationKey,
    source: 'namespace-annotation' | 'pod-annotation',
    value: string | undefined,
  ) => {
    if (value === undefined) return;
    const only = source === 'pod-annotation' ? 'a namespace' : 'a pod';
    warnings.add(`dns-tuner: ignored ${source.replace('-', ' ')} ${key}: only ${only} may set it`);
    invalid.push(ignoredAnnotation(key, source, value, 'not-allowed'));
  };
  misplaced(ANNOTATIONS.skip, 'namespace-annotation', namespaceAnnotations[ANNOTATIONS.skip]);
  misplaced(ANNOTATIONS.podOverrides, 'pod-annotation', pod.annotations[ANNOTATIONS.podOverrides]);
  misplaced(ANNOTATIONS.nodeLocalReachable, 'pod-annotation', pod.annotations[ANNOTATIONS.nodeLocalReachable]);
  apply(settings, ns.refinement, 'namespace-annotation', config, warnings, invalid, namespaceAnnotations);
  if (ns.refinement.podOverrides !== undefined) {
    settings.podOverrides = sourced(ns.refinement.podOverrides, 'namespace-annotation', ANNOTATIONS.podOverrides);
  }

  const podAnnotations = parseRefinement(pod.annotations, 'pod', warnings);
  for (const entry of podAnnotations.invalid) invalid.push(entry);
  const { mode: podMode, ...podRefinement } = podAnnotations.refinement;
  // A pod may always ask for dry-run: it can only make the webhook do less.
  if (podMode !== undefined && (podMode === 'dry-run' || settings.podOverrides.value)) {
    refineMode(settings, podMode, 'pod-annotation');
  }
  if (settings.podOverrides.value) {
    apply(settings, podRefinement, 'pod-annotation', config, warnings, invalid, pod.annotations);
  } else {
    const ignored = overrideKeys(pod.annotations).filter((k) => podAnnotations.present.has(k));
    if (podMode === 'enforce') ignored.push(ANNOTATIONS.mode);
    if (ignored.length > 0) {
      warnings.add(`dns-tuner: policy ${policyName} does not allow pod overrides; ignored ${ignored.join(', ')}`);
    }
    for (const key of ignored) {
      invalid.push(ignoredAnnotation(key, 'pod-annotation', pod.annotations[key] ?? '', 'not-allowed'));
    }
  }

  // What the author wrote in spec.dnsConfig.options wins over every layer above.
  for (const own of pod.dnsConfig?.options ?? []) {
    if (own.name === 'ndots') {
      // As the resolver reads it (the apiserver does not validate option values): "abc" is 0, "1e3" is 1.
      const ndots = own.value === undefined ? undefined : glibcNumber(own.value, NUMERIC_OPTIONS.ndots.max);
      settings.ndots = sourced(ndots, 'pod-spec', 'spec.dnsConfig');
      continue;
    }
    const i = settings.options.findIndex((o) => o.value.name === own.name);
    if (i !== -1) settings.options[i] = sourced(own, 'pod-spec', 'spec.dnsConfig');
  }
  return { settings, invalid };
}

function sourced<T>(value: T, source: Source, from: string): Sourced<T> {
  return { value, source, from };
}

function refineMode(settings: Settings, mode: Settings['mode']['value'], source: Source): void {
  const key = ANNOTATIONS.mode;
  // Dry-run wins: once any layer says dry-run, a later `enforce` cannot undo it.
  if (settings.mode.value === 'dry-run') return;
  settings.mode = sourced(mode, source, key);
}

function apply(
  settings: Settings,
  r: Refinement,
  source: 'namespace-annotation' | 'pod-annotation',
  config: Config,
  warnings: WarningList,
  invalid: IgnoredAnnotation[],
  annotations: Record<string, string>,
): void {
  const who = source === 'pod-annotation' ? 'pod' : 'namespace';
  const unconfigured = (key: typeof ANNOTATIONS.nodeLocal | typeof ANNOTATIONS.fallback, what: string) => {
    warnings.add(`dns-tuner: ignored ${who} annotation ${key}="true": no ${what} configured`);
    invalid.push(ignoredAnnotation(key, source, annotations[key] ?? '', 'unconfigured'));
  };
  if (r.mode !== undefined) refineMode(settings, r.mode, source);
  if (r.unsetNdots) settings.ndots = sourced(undefined, source, ANNOTATIONS.options);
  if (r.ndots !== undefined) settings.ndots = sourced(r.ndots, source, ANNOTATIONS.ndots);
  for (const edit of r.optionEdits) {
    const name = edit.op === 'set' ? edit.option.name : edit.name;
    const i = settings.options.findIndex((o) => o.value.name === name);
    if (edit.op === 'remove') {
      if (i !== -1) settings.options.splice(i, 1);
      continue;
    }
    const next: Sourced<ResolverOption> = sourced(edit.option, source, ANNOTATIONS.options);
    if (i === -1) settings.options.push(next);
    else settings.options[i] = next;
  }
  if (r.nodeLocal !== undefined) {
    if (r.nodeLocal && !config.nodeLocalDNS) unconfigured(ANNOTATIONS.nodeLocal, 'nodeLocalDNS');
    else settings.nodeLocal = sourced(r.nodeLocal, source, ANNOTATIONS.nodeLocal);
  }
  if (r.fallback !== undefined) {
    if (r.fallback && !config.clusterDNS) unconfigured(ANNOTATIONS.fallback, 'clusterDNS');
    else settings.fallback = sourced(r.fallback, source, ANNOTATIONS.fallback);
  }
}
