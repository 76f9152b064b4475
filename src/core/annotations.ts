/**
 * The `dns-tuner.io/*` annotation grammar, shared by namespaces and pods. A bad value never throws and never reaches
 * a pod: it is dropped with a warning that names the annotation and the value, and the pod is still admitted.
 * Where a typo could make the webhook do more than its author meant (`skip`, `mode`), it fails safe instead: an
 * unrecognised `skip` leaves the pod alone and an unrecognised `mode` means dry-run. Every such value is also
 * returned as an IgnoredAnnotation, so it can be counted.
 */

import { KNOWN_OPTIONS, parseOption, type ResolverOption, validateOption } from './resolver-options.ts';
import { showValue } from './show-value.ts';
import { ANNOTATIONS, type AnnotationKey, type IgnoredAnnotation, type Mode } from './types.ts';
import type { WarningList } from './warnings.ts';

// The keys live with the types that name them (./types.ts); re-exported for the readers of this module.
export { ANNOTATIONS, type AnnotationKey };

/** How much of a bad value an IgnoredAnnotation keeps. */
const MAX_IGNORED_VALUE_CHARS = 64;

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
  /** At most one per key: the first bad value. */
  invalid: IgnoredAnnotation[];
}

/** An annotation value in a warning: short (warnings are capped at 120 characters). */
export function describeValue(value: string): string {
  return showValue(value, 24);
}

export function ignoredAnnotation(
  annotation: AnnotationKey,
  source: IgnoredAnnotation['source'],
  value: string,
  problem: IgnoredAnnotation['problem'],
): IgnoredAnnotation {
  let shown = value.slice(0, MAX_IGNORED_VALUE_CHARS);
  // Never end on half a surrogate pair (the value goes into logs as JSON).
  if (/[\ud800-\udbff]$/.test(shown)) shown = shown.slice(0, -1);
  return { annotation, source, value: shown, problem };
}

/**
 * Parses the refining annotations. `who` limits which keys are read (a namespace may also set pod-overrides;
 * a pod may not). One pass over each value; warnings go to the caller's bounded list.
 */
export function parseRefinement(
  annotations: Record<string, string>,
  who: 'namespace' | 'pod',
  warnings: WarningList,
): ParsedAnnotations {
  const refinement: Refinement = { optionEdits: [] };
  const present = new Set<string>();
  const invalid: IgnoredAnnotation[] = [];
  const flagged = new Set<AnnotationKey>();
  const source = who === 'namespace' ? 'namespace-annotation' : 'pod-annotation';
  const bad = (key: AnnotationKey, value: string, why: string) => {
    warnings.add(`dns-tuner: ignored ${who} annotation ${key}=${describeValue(value)}: ${why}`);
    if (flagged.has(key)) return;
    flagged.add(key);
    invalid.push(ignoredAnnotation(key, source, value, 'invalid'));
  };

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

  const bool = (key: AnnotationKey): boolean | undefined => {
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
    present.add(ANNOTATIONS.mode);
    if (v === 'enforce' || v === 'dry-run') refinement.mode = v;
    else {
      // Fail safe: whoever wrote `Dry-Run` or `audit` did not ask for enforcement ("dry-run wins", ADR 4).
      refinement.mode = 'dry-run';
      warnings.add(
        `dns-tuner: ${who} annotation ${ANNOTATIONS.mode}=${describeValue(mode)} is not "enforce" or "dry-run": dry-run`,
      );
      invalid.push(ignoredAnnotation(ANNOTATIONS.mode, source, mode, 'invalid'));
    }
  }
  return { refinement, present, invalid };
}

export interface SkipRequest {
  skip: boolean;
  /** The skip annotation or label when its value is neither "true" nor "false" (it then counts as skip). */
  invalid: IgnoredAnnotation[];
}

/**
 * `dns-tuner.io/skip: "true"` always leaves the pod alone, whatever the policy says: as an annotation, or as the label
 * the webhook configuration's objectSelector filters on (so /dry-run and `explain` answer as the cluster would).
 * `"false"` is the other documented value; anything else (`"True"`, `"yes"`, `"1"`) also means skip, with a warning:
 * the author clearly meant to opt out, and tuning a pod whose author asked not to be tuned is the unsafe mistake.
 */
export function readSkip(
  pod: { annotations: Record<string, string>; labels: Record<string, string> },
  warnings: WarningList,
): SkipRequest {
  const invalid: IgnoredAnnotation[] = [];
  let skip = false;
  const read = (value: string | undefined, source: 'pod-annotation' | 'pod-label') => {
    if (value === undefined) return;
    const v = value.trim();
    if (v === 'true') skip = true;
    else if (v !== 'false') {
      skip = true;
      const where = source === 'pod-label' ? 'label' : 'annotation';
      warnings.add(
        `dns-tuner: pod ${where} ${ANNOTATIONS.skip}=${describeValue(value)} is not "true" or "false": pod left alone`,
      );
      invalid.push(ignoredAnnotation(ANNOTATIONS.skip, source, value, 'invalid'));
    }
  };
  read(pod.annotations[ANNOTATIONS.skip], 'pod-annotation');
  read(pod.labels[ANNOTATIONS.skip], 'pod-label');
  return { skip, invalid };
}

/** The override annotations a pod carries (for the "overrides not allowed" warning). */
export function overrideKeys(annotations: Record<string, string>): AnnotationKey[] {
  const keys: AnnotationKey[] = [ANNOTATIONS.ndots, ANNOTATIONS.options, ANNOTATIONS.nodeLocal, ANNOTATIONS.fallback];
  return keys.filter((k) => annotations[k] !== undefined);
}
