/**
 * The `dns-tuner.io/*` annotation grammar, shared by namespaces and pods. A bad value never throws and never reaches
 * a pod: it is dropped with a warning that names the annotation and the value, and the pod is still admitted.
 */
import { KNOWN_OPTIONS, parseOption, type ResolverOption, validateOption } from './resolver-options.ts';
import type { Mode } from './types.ts';

export const ANNOTATIONS = {
  ndots: 'dns-tuner.io/ndots',
  options: 'dns-tuner.io/options',
  nodeLocal: 'dns-tuner.io/node-local',
  fallback: 'dns-tuner.io/fallback',
  mode: 'dns-tuner.io/mode',
  podOverrides: 'dns-tuner.io/pod-overrides',
  skip: 'dns-tuner.io/skip',
} as const;

/** One edit of the option list: set (add or replace by name) or remove (`-name`). */
export type OptionEdit = { op: 'set'; option: ResolverOption } | { op: 'remove'; name: string };

export interface Refinement {
  ndots?: number;
  /** Set by `-ndots` in the options annotation: fall back to the resolver's (or kubelet's) default. */
  unsetNdots?: boolean;
  optionEdits: OptionEdit[];
  nodeLocal?: boolean;
  fallback?: boolean;
  mode?: Mode;
  podOverrides?: boolean;
}

export interface ParsedAnnotations {
  refinement: Refinement;
  /** Which annotation keys were present and valid (for provenance). */
  present: Set<string>;
  warnings: string[];
}

export function describeValue(value: string): string {
  const shown = value.length > 24 ? `${value.slice(0, 23)}…` : value;
  return JSON.stringify(shown);
}

/**
 * Parses the refining annotations. `who` limits which keys are read (a namespace may also set pod-overrides;
 * a pod may not).
 */
export function parseRefinement(annotations: Record<string, string>, who: 'namespace' | 'pod'): ParsedAnnotations {
  const refinement: Refinement = { optionEdits: [] };
  const present = new Set<string>();
  const warnings: string[] = [];
  const bad = (key: string, value: string, why: string) =>
    warnings.push(`dns-tuner: ignored ${who} annotation ${key}=${describeValue(value)}: ${why}`);

  const ndots = annotations[ANNOTATIONS.ndots];
  if (ndots !== undefined) {
    const parsed = validateOption({ name: 'ndots', value: ndots.trim() });
    if (parsed.ok) {
      refinement.ndots = Number(parsed.option.value);
      present.add(ANNOTATIONS.ndots);
    } else bad(ANNOTATIONS.ndots, ndots, 'needs a whole number 0-15');
  }

  const options = annotations[ANNOTATIONS.options];
  if (options !== undefined) {
    for (const raw of options.split(',')) {
      const token = raw.trim();
      if (token === '') continue;
      if (token.startsWith('-')) {
        const name = token.slice(1);
        // A removal must name an option we would know how to add, so a typo does not pass silently.
        if (!KNOWN_OPTIONS.has(name)) bad(ANNOTATIONS.options, token, `unknown option "${name}"`);
        else if (name === 'ndots') refinement.unsetNdots = true;
        else refinement.optionEdits.push({ op: 'remove', name });
        continue;
      }
      const parsed = parseOption(token);
      if (!parsed.ok) {
        bad(ANNOTATIONS.options, token, parsed.error);
        continue;
      }
      if (parsed.option.name === 'ndots') {
        // An explicit dns-tuner.io/ndots annotation is the more specific of the two.
        if (refinement.ndots === undefined) refinement.ndots = Number(parsed.option.value);
      } else refinement.optionEdits.push({ op: 'set', option: parsed.option });
    }
    if (refinement.optionEdits.length > 0 || refinement.unsetNdots) present.add(ANNOTATIONS.options);
  }

  const bool = (key: string): boolean | undefined => {
    const value = annotations[key];
    if (value === undefined) return undefined;
    const v = value.trim();
    if (v === 'true' || v === 'false') {
      present.add(key);
      return v === 'true';
    }
    bad(key, value, 'must be "true" or "false"');
    return undefined;
  };
  const nodeLocal = bool(ANNOTATIONS.nodeLocal);
  if (nodeLocal !== undefined) refinement.nodeLocal = nodeLocal;
  const fallback = bool(ANNOTATIONS.fallback);
  if (fallback !== undefined) refinement.fallback = fallback;
  if (who === 'namespace') {
    const podOverrides = bool(ANNOTATIONS.podOverrides);
    if (podOverrides !== undefined) refinement.podOverrides = podOverrides;
  }

  const mode = annotations[ANNOTATIONS.mode];
  if (mode !== undefined) {
    const v = mode.trim();
    if (v === 'enforce' || v === 'dry-run') {
      refinement.mode = v;
      present.add(ANNOTATIONS.mode);
    } else bad(ANNOTATIONS.mode, mode, 'must be "enforce" or "dry-run"');
  }
  return { refinement, present, warnings };
}

/**
 * `dns-tuner.io/skip: "true"` always leaves the pod alone, whatever the policy says: as an annotation, or as the label
 * the webhook configuration's objectSelector filters on (so /dry-run and `explain` answer as the cluster would).
 */
export function wantsSkip(pod: { annotations: Record<string, string>; labels: Record<string, string> }): boolean {
  return pod.annotations[ANNOTATIONS.skip]?.trim() === 'true' || pod.labels[ANNOTATIONS.skip] === 'true';
}

/** The override annotations a pod carries (for the "overrides not allowed" warning). */
export function overrideKeys(annotations: Record<string, string>): string[] {
  const keys: string[] = [ANNOTATIONS.ndots, ANNOTATIONS.options, ANNOTATIONS.nodeLocal, ANNOTATIONS.fallback];
  return keys.filter((k) => annotations[k] !== undefined);
}
