/**
 * The offline NamespaceSource: Namespace objects read from a YAML file (for `npm start`, tests and demos without a
 * cluster). Accepts what `kubectl get ns -o yaml` prints (a `List`/`NamespaceList` with `items`), a multi-document
 * stream of Namespaces (`---` separated), or a plain YAML sequence of them.
 */

import { type Document, isMap, isNode, isSeq, LineCounter, parseAllDocuments, parseDocument } from 'yaml';
import { z } from 'zod';
import { showValue } from '../admission/review.ts';
import type { NamespaceInfo } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { describeReadError, readSnapshot } from '../watch/files.ts';
import { documentValue, firstDuplicateKey, type Locate, locator, PARSE_OPTIONS, toJS } from '../yaml/locate.ts';
import { describeIssues } from '../zod/issues.ts';
import { type Piece, type SplitDocument, splitNamespaceFile } from './file-items.ts';
import { type NamespaceLookup, type NamespaceSource, type NamespaceSourceStatus, toNamespaceInfo } from './source.ts';

/** RFC 1123 label, as the apiserver requires of namespace names (ValidateNamespaceName). */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const problem = (what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : `must be ${what}, got ${showValue(issue.input)}`;

const stringMap = z.record(z.string(), z.string({ error: problem('a string') }), {
  error: problem('a map of strings'),
});

const namespaceSchema = z.object(
  {
    apiVersion: z.literal('v1', { error: problem('"v1"') }).optional(),
    kind: z.literal('Namespace', { error: problem('"Namespace"') }).optional(),
    metadata: z.object(
      {
        name: z
          .string({ error: problem('a string') })
          .max(63, { error: (i) => `${showValue(i.input)} is longer than 63 characters` })
          .regex(NAMESPACE_NAME, { error: (i) => `${showValue(i.input)} is not a DNS label (RFC 1123)` }),
        labels: stringMap.nullish(),
        annotations: stringMap.nullish(),
      },
      { error: problem('a map') },
    ),
  },
  { error: problem('a Namespace object') },
);

export type NamespaceFileParse = { ok: true; namespaces: Map<string, NamespaceInfo> } | { ok: false; error: string };

/** An item of the file: its value, and where its node starts in the file (for error positions). */
interface Item {
  value: unknown;
  offset: number | undefined;
}

type Items = { ok: true; items: Item[] } | { ok: false; error: string };

export interface ParseSizes {
  /**
   * Files above this many characters are parsed entry by entry (./file-items.ts): one syntax tree for a 12 MB
   * `kubectl get ns -o yaml` (10,000 namespaces) takes ~170 MiB of heap, past the Deployment's 192 MiB. Smaller files
   * are parsed whole.
   */
  piecewiseAbove: number;
  /**
   * A file read in pieces that turns out bad is read again whole, for the error the whole read gives (an entry read
   * on its own sees less context), when it is at most this large; a larger one reports the first problem its pieces
   * show.
   */
  wholeUpTo: number;
}

export const DEFAULT_PARSE_SIZES: ParseSizes = { piecewiseAbove: 1024 * 1024, wholeUpTo: 3 * 1024 * 1024 };

/** Parses the file's text; `fileName` only labels errors (`file:line: item 2 (shop): labels …`). */
export function parseNamespaceFile(
  text: string,
  fileName: string,
  sizes: ParseSizes = DEFAULT_PARSE_SIZES,
): NamespaceFileParse {
  if (text.length > sizes.piecewiseAbove) {
    const pieces = parseNamespaceFileInPieces(text, fileName);
    if (pieces.ok || text.length > sizes.wholeUpTo) return pieces;
  }
  const items = itemsOfWholeFile(text, fileName);
  return items.ok ? validateItems(items.items, lineLocator(text, fileName)) : items;
}

/** The file read entry by entry, whatever its size, and its first problem as the pieces show it. */
export function parseNamespaceFileInPieces(text: string, fileName: string): NamespaceFileParse {
  const items = itemsInPieces(text, fileName);
  return items.ok ? validateItems(items.items, lineLocator(text, fileName)) : items;
}

/** `file:line:col` of a file offset, from the text's own line starts. */
function lineLocator(text: string, fileName: string): Locate {
  const lineCounter = new LineCounter();
  lineCounter.addNewLine(0);
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lineCounter.addNewLine(at + 1);
  return locator(fileName, lineCounter);
}

function itemsOfWholeFile(text: string, fileName: string): Items {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, ...PARSE_OPTIONS });
  if (!Array.isArray(docs)) return { ok: false, error: `${fileName}: not a YAML document stream` };
  const at = locator(fileName, lineCounter);
  const items: Item[] = [];
  for (const doc of docs) {
    const read = documentValue(doc, at);
    if (!read.ok) return read;
    const problem = itemsOfDocument(doc, read.value, (o) => o, at, items);
    if (problem) return problem;
  }
  return { ok: true, items };
}

/**
 * The items of one parsed document, appended to `items`: a sequence's entries, a List's `items`, or the document
 * itself. `offset` maps an offset in the document's text to one in the file.
 */
function itemsOfDocument(
  doc: Document,
  value: unknown,
  offset: (local: number | undefined) => number | undefined,
  at: Locate,
  items: Item[],
): { ok: false; error: string } | undefined {
  if (value === null || value === undefined) return undefined; // empty document (a trailing `---`)
  const contents = doc.contents;
  if (isSeq(contents)) {
    contents.items.forEach((node, i) => {
      items.push({ value: (value as unknown[])[i], offset: offset(offsetOf(node)) });
    });
  } else if (isMap(contents) && isListKind((value as { kind?: unknown }).kind)) {
    const list = contents.get('items', true);
    const jsItems = (value as { items?: unknown }).items ?? [];
    if (!isSeq(list) && list !== undefined && list !== null) {
      return {
        ok: false,
        error: `${at(offset(contents.range?.[0]))}: ${(value as { kind: string }).kind}.items must be a list`,
      };
    }
    (jsItems as unknown[]).forEach((item, i) => {
      items.push({ value: item, offset: isSeq(list) ? offset(offsetOf(list.items[i])) : undefined });
    });
  } else {
    items.push({ value, offset: offset(contents?.range?.[0]) });
  }
  return undefined;
}

/** Only what the schema reads, so 10,000 entries do not keep their managedFields and status alive meanwhile. */
function slim(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { apiVersion, kind, metadata } = value as { apiVersion?: unknown; kind?: unknown; metadata?: unknown };
  const out: Record<string, unknown> = {};
  if (apiVersion !== undefined) out.apiVersion = apiVersion;
  if (kind !== undefined) out.kind = kind;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    if (metadata !== undefined) out.metadata = metadata;
    return out;
  }
  const { name, labels, annotations } = metadata as { name?: unknown; labels?: unknown; annotations?: unknown };
  const meta: Record<string, unknown> = {};
  if (name !== undefined) meta.name = name;
  if (labels !== undefined) meta.labels = labels;
  if (annotations !== undefined) meta.annotations = annotations;
  out.metadata = meta;
  return out;
}

/** A problem of a piece, at its offset in the file. */
interface Problem {
  offset: number | undefined;
  message: string;
}

/** The earliest of the problems seen so far, by kind: the whole file's read reports a syntax error first. */
class FirstProblems {
  private syntax: Problem | undefined;
  private duplicate: Problem | undefined;
  private alias: Problem | undefined;

  private static earlier(a: Problem | undefined, b: Problem): Problem {
    if (a === undefined) return b;
    return (b.offset ?? Number.POSITIVE_INFINITY) < (a.offset ?? Number.POSITIVE_INFINITY) ? b : a;
  }

  /** Parses `piece` (offsets mapped by `toFile`), notes its problems, and gives its document and value. */
  read(piece: Piece, toFile: (local: number | undefined) => number | undefined) {
    const doc = parseDocument(piece.text, PARSE_OPTIONS);
    const error = doc.errors[0];
    if (error) {
      this.syntax = FirstProblems.earlier(this.syntax, {
        offset: toFile(error.pos[0]),
        message: firstLine(error.message, error.code),
      });
    }
    const duplicate = firstDuplicateKey(doc);
    if (duplicate) {
      this.duplicate = FirstProblems.earlier(this.duplicate, {
        offset: toFile(duplicate.offset),
        message: duplicate.message,
      });
    }
    const value = toJS(doc);
    if (!value.ok) {
      this.alias = FirstProblems.earlier(this.alias, {
        offset: toFile(value.problem.offset),
        message: value.problem.message,
      });
    }
    return { doc, value: value.ok ? value.value : undefined };
  }

  error(at: Locate): { ok: false; error: string } | undefined {
    if (this.syntax)
      return { ok: false, error: `${at(this.syntax.offset)}: YAML syntax error: ${this.syntax.message}` };
    if (this.duplicate) {
      return { ok: false, error: `${at(this.duplicate.offset)}: YAML syntax error: ${this.duplicate.message}` };
    }
    if (this.alias) return { ok: false, error: `${at(this.alias.offset)}: YAML error: ${this.alias.message}` };
    return undefined;
  }
}

/**
 * The file read entry by entry (./file-items.ts), each entry's tree dropped once its value is taken; a document that
 * is not the list the cut expected is parsed whole. Problems are reported as the whole file's read reports them: the
 * first syntax error, else the first repeated key, else the first alias error, by position, in the first document
 * that has one.
 */
function itemsInPieces(text: string, fileName: string): Items {
  const documents = splitNamespaceFile(text);
  if (documents === undefined) return itemsOfWholeFile(text, fileName);
  const at = lineLocator(text, fileName);
  const items: Item[] = [];
  const shift = (piece: Piece, cut?: { at: number; length: number }) => (local: number | undefined) => {
    if (local === undefined) return undefined;
    const file = piece.offset + local;
    return cut !== undefined && file >= cut.at ? file + cut.length : file;
  };
  for (const document of documents) {
    const problems = new FirstProblems();
    const restOffset = shift(document.rest, document.rest.cut);
    const rest = problems.read(document.rest, restOffset);
    const found: Array<Item | undefined> = [];
    for (const entry of document.entries ?? []) {
      const toFile = shift(entry);
      const { doc, value } = problems.read(entry, toFile);
      const contents = doc.contents;
      if (!entry.flow) {
        const node = offsetOf(contents);
        found.push({ value: slim(value), offset: node === undefined ? entry.empty : toFile(node) });
      } else if (isSeq(contents) && contents.items.length === 1 && Array.isArray(value)) {
        found.push({ value: slim(value[0]), offset: toFile(offsetOf(contents.items[0])) });
      } else {
        found.push(undefined); // `[entry]` is not one item: the cut went wrong
      }
    }
    const problem = problems.error(at);
    if (problem) return problem;
    if (document.entries !== undefined && cutAsExpected(document.root, rest.value) && found.every(Boolean)) {
      for (const item of found) items.push(item as Item);
      continue;
    }
    // Not the list the cut expected (or nothing to cut): this document whole, as the whole-file read takes it.
    const piece = document.entries === undefined ? document.rest : wholeDocument(text, document);
    const whole = new FirstProblems();
    const toFile = shift(piece);
    const { doc, value } =
      document.entries === undefined ? { doc: rest.doc, value: rest.value } : whole.read(piece, toFile);
    const wholeProblem = whole.error(at);
    if (wholeProblem) return wholeProblem;
    const before = items.length;
    const listProblem = itemsOfDocument(doc, value, document.entries === undefined ? restOffset : toFile, at, items);
    if (listProblem) return listProblem;
    for (let i = before; i < items.length; i++) items[i]!.value = slim(items[i]!.value);
  }
  return { ok: true, items };
}

/** The document's text as in the file, cut region included. */
function wholeDocument(text: string, document: SplitDocument): Piece {
  const { rest } = document;
  const length = rest.text.length + (rest.cut?.length ?? 0);
  return { text: text.slice(rest.offset, rest.offset + length), offset: rest.offset };
}

/** A root sequence leaves nothing (or `[]`); a List leaves its other keys, with `items` empty. */
function cutAsExpected(root: boolean, rest: unknown): boolean {
  if (root) return rest === null || rest === undefined || (Array.isArray(rest) && rest.length === 0);
  if (typeof rest !== 'object' || rest === null || Array.isArray(rest)) return false;
  const { kind, items } = rest as { kind?: unknown; items?: unknown };
  return isListKind(kind) && (items === null || (Array.isArray(items) && items.length === 0));
}

function firstLine(message: string, code: string): string {
  const line = message.split('\n')[0] ?? code;
  return /call stack/i.test(line) ? 'nested too deeply' : line;
}

function validateItems(items: readonly Item[], at: Locate): NamespaceFileParse {
  const namespaces = new Map<string, NamespaceInfo>();
  for (const [index, item] of items.entries()) {
    const result = namespaceSchema.safeParse(item.value);
    const rawName = (item.value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    const label = `item ${index + 1}${typeof rawName === 'string' ? ` (${rawName})` : ''}`;
    if (!result.success) {
      const messages = describeIssues(result.error, { root: '' });
      return { ok: false, error: `${at(item.offset)}: ${label}: ${messages}` };
    }
    const { metadata } = result.data;
    if (namespaces.has(metadata.name)) {
      return { ok: false, error: `${at(item.offset)}: ${label}: namespace "${metadata.name}" is listed twice` };
    }
    namespaces.set(metadata.name, toNamespaceInfo(metadata));
  }
  return { ok: true, namespaces };
}

function offsetOf(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

function isListKind(kind: unknown): boolean {
  return kind === 'List' || kind === 'NamespaceList';
}

/** A namespace file that cannot be read or does not validate (DNS_TUNER_BAD_NAMESPACE_FILE). */
export class NamespaceFileError extends DnsTunerError {
  constructor(detail: string) {
    super('DNS_TUNER_BAD_NAMESPACE_FILE', detail);
    this.name = 'NamespaceFileError';
  }
}

/** `start()` reads and validates the file (rejecting with a NamespaceFileError that names the problem). */
export function createFileNamespaceSource(path: string): NamespaceSource {
  let namespaces: Map<string, NamespaceInfo> | undefined;
  const answer = (name: string): NamespaceLookup => {
    if (!namespaces) return { found: false, error: `namespace file ${path} is not loaded` };
    const namespace = namespaces.get(name);
    return namespace ? { found: true, namespace } : { found: false };
  };
  return {
    async start() {
      const [file] = await readSnapshot([path]);
      if (!file?.data) throw new NamespaceFileError(`${path}: ${describeReadError(file?.error)}`);
      const parsed = parseNamespaceFile(file.data.toString('utf8'), path);
      if (!parsed.ok) throw new NamespaceFileError(parsed.error);
      namespaces = parsed.namespaces;
    },
    async stop() {},
    async lookup(name): Promise<NamespaceLookup> {
      return answer(name);
    },
    cached: (name) => (namespaces ? answer(name) : undefined),
    entries: () => namespaces?.values() ?? [],
    status(): NamespaceSourceStatus {
      return namespaces
        ? { ready: true, size: namespaces.size }
        : { ready: false, reason: `namespace file ${path} not loaded yet`, size: 0 };
    },
  };
}
