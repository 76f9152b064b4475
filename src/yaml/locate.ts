/**
 * What every reader of a YAML file needs around the `yaml` package: positions as `file:line:col`, the first syntax
 * error, and `toJS` without the throw. `doc.toJS()` throws where parsing did not complain — an alias to an anchor
 * that does not exist (`mode: *nope`), too many aliases (a "billion laughs" document) — and a reader must turn that
 * into an error naming the file, like any other bad content, not let an exception escape.
 *
 * Used by the config file (src/config/load.ts), the namespace file (src/namespaces/file-source.ts) and the dry-run
 * input (src/dryrun/input.ts).
 */
import { type Document, isScalar, type LineCounter, type ToJSOptions, visit, type YAMLError, type YAMLMap } from 'yaml';

/** An offset into the text → `file:line:col`; just `file` when there is no offset. */
export type Locate = (offset: number | undefined) => string;

export function locator(fileName: string, lineCounter: LineCounter): Locate {
  return (offset) => {
    if (offset === undefined) return fileName;
    const { line, col } = lineCounter.linePos(offset);
    return `${fileName}:${line}:${col}`;
  };
}

/** Something wrong with a document, and where (an offset into the text) when that is known. */
export interface YamlProblem {
  offset: number | undefined;
  message: string;
}

/**
 * The document's first syntax error: its first line only (the rest is an excerpt of the source). Duplicate keys are
 * one too, found here in one pass: the `yaml` package's own `uniqueKeys` check compares every key with every other
 * (an 800 KB mapping took 39 s), so every reader parses with `uniqueKeys: false` and relies on this instead.
 */
export function firstSyntaxError(doc: Document): YamlProblem | undefined {
  const error = doc.errors[0];
  if (error) return syntaxProblem(error);
  return firstDuplicateKey(doc);
}

/** A parser error as a problem: its first line only (the rest is an excerpt of the source). */
export function syntaxProblem(error: YAMLError): YamlProblem {
  return { offset: error.pos[0], message: plain(error.message.split('\n')[0] ?? error.code) };
}

/**
 * Parse options every reader shares (see firstSyntaxError for why keys are not checked by the parser). `logLevel`
 * error: the package would otherwise print its warnings (e.g. "Keys with collection values will be stringified") on
 * the process's stderr for any file or dry-run body it is handed; they stay in `doc.warnings`, and what we refuse we
 * say through our own errors.
 */
export const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: false, logLevel: 'error' } as const;

/** The first key that repeats in a mapping of `doc`, in document order. */
export function firstDuplicateKey(doc: Document): YamlProblem | undefined {
  let problem: YamlProblem | undefined;
  visit(doc, {
    Map(_key, map) {
      problem = duplicateKeyIn(map);
      return problem ? visit.BREAK : undefined;
    },
  });
  return problem;
}

/** The first key of `map` (not of the maps inside it) that repeats an earlier one. */
export function duplicateKeyIn(map: YAMLMap): YamlProblem | undefined {
  const seen = new Set<string>();
  for (const pair of map.items) {
    if (!isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    // YAML 1.1 merge keys may repeat (`<<: *a` then `<<: *b`).
    if (key === '<<') continue;
    if (seen.has(key)) return { offset: pair.key.range?.[0], message: 'Map keys must be unique' };
    seen.add(key);
  }
  return undefined;
}

export type YamlValue = { ok: true; value: unknown } | { ok: false; problem: YamlProblem };

/** `doc.toJS(options)`, with what it throws returned as a problem (placed at the unresolved alias, if that was it). */
export function toJS(doc: Document, options?: ToJSOptions): YamlValue {
  try {
    return { ok: true, value: doc.toJS(options) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, problem: { offset: unresolvedAliasOffset(doc), message: plain(message) } };
  }
}

/**
 * The document's value, or its first problem as one line: `file:line:col: YAML syntax error: …` for what the parser
 * rejected, `file:line:col: YAML error: …` for what only `toJS` finds.
 */
export function documentValue(
  doc: Document,
  at: Locate,
  options?: ToJSOptions,
): { ok: true; value: unknown } | { ok: false; error: string } {
  const syntax = firstSyntaxError(doc);
  if (syntax) return { ok: false, error: `${at(syntax.offset)}: YAML syntax error: ${syntax.message}` };
  const value = toJS(doc, options);
  if (!value.ok) return { ok: false, error: `${at(value.problem.offset)}: YAML error: ${value.problem.message}` };
  return value;
}

/** A stack overflow on absurd nesting says "Maximum call stack size exceeded": say what it means for the file. */
function plain(message: string): string {
  return /call stack/i.test(message) ? 'nested too deeply' : message;
}

/** Where the first alias that names no earlier anchor is, if there is one. */
function unresolvedAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined) return undefined;
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}
