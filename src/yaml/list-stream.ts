/**
 * A YAML stream read document by document without one document becoming one syntax tree: the entries of a
 * document's list (a root sequence, or the sequence under a root key such as a List's `items`) are composed one at a
 * time as the parser completes them, kept as what `keep` makes of their value, and dropped from the parser's syntax
 * tree. The `yaml` package's tree of `kubectl get ns -o yaml` for 10,000 namespaces (12 MB) takes ~170 MiB of heap and
 * its CST ~320 MiB, past the Deployment's 192 MiB, while what a reader keeps of them takes a few MiB.
 *
 * It reads what `parseAllDocuments` + `documentValue` (./locate.ts) read, with the same first problem, because it
 * runs the package's own lexer, parser and composer over the whole text: the CST is the same token for token, and an
 * entry taken out is composed by the same composer code, in a stand-in list that gives it what its real list would
 * (the list's indentation, the end of the entry before it, its place neither first nor last in a flow list), so it
 * gets the same node and the same errors. What remains of the document is composed as usual, and the entries'
 * problems are put where the whole document's read meets them: syntax errors where the composer reaches the list,
 * repeated keys where `visit` reaches it. The parser only ever looks at the last two entries of a list, so earlier
 * ones can go (yaml's src/parse/parser.ts, `blockSequence` and `flowCollection`).
 *
 * Not taken out (read as before, whole): entries of a document from its first anchor or alias on (an alias may point
 * into any entry, and `toJS` counts aliases over the document), and every document after a directive (`%YAML 1.1`
 * changes how entries compose).
 */
import {
  Composer,
  CST,
  type Document,
  isNode,
  isSeq,
  Lexer,
  type LineCounter,
  type Node,
  type ParseOptions,
  Parser,
  visit,
} from 'yaml';
import { duplicateKeyIn, type Locate, syntaxProblem, toJS, type YamlProblem } from './locate.ts';

/** An entry taken out of a list: what `keep` made of its value, and where its node starts (for error positions). */
export interface ListEntry {
  value: unknown;
  offset: number | undefined;
}

/** The entries taken out of a document's list; they come before the list node's own items, which start at `skip`. */
export interface TakenEntries {
  list: Node;
  skip: number;
  entries: ListEntry[];
}

export type StreamDocument =
  | { ok: true; doc: Document.Parsed; value: unknown; taken: TakenEntries | undefined }
  | { ok: false; error: string };

export interface ListStreamOptions {
  lineCounter: LineCounter;
  /** Options every reader parses with (./locate.ts PARSE_OPTIONS). */
  parse: ParseOptions;
  /** Whether a key of the root map (its source: `items`, `"items"`) holds the document's list. */
  isListKey(source: string): boolean;
  /** What to keep of an entry's value. */
  keep(value: unknown): unknown;
}

type List = CST.BlockSequence | CST.FlowCollection;
type ListItem = CST.BlockSequence['items'][number] | CST.CollectionItem;

/** The entries taken out of one document so far, and the first problem of each kind among them. */
class Taking {
  readonly list: List;
  readonly flow: boolean;
  readonly root: boolean;
  entries: ListEntry[] = [];
  /** Where the last entry taken out ends (its node's range[2]); the next one is composed from there. */
  end: number;
  syntax: YamlProblem | undefined;
  duplicate: YamlProblem | undefined;
  value: YamlProblem | undefined;
  /**
   * Whether a taken entry holds a line break: the composer asks this of a flow list used as a map's key
   * (`containsNewline`), so the stand-in entry that replaces them holds one too.
   */
  newline = false;
  /** How many of the document's errors came before the composer reached the list; undefined until it does. */
  split: number | undefined;

  constructor(list: List, root: boolean) {
    this.list = list;
    this.flow = list.type === 'flow-collection';
    this.root = root;
    this.end = list.offset;
  }
}

/** Per document: whether entries may still be taken out, and what was. */
interface DocumentState {
  token: CST.Document;
  stopped: boolean;
  taking: Taking | undefined;
}

/** The documents of `text`, each with its list's entries taken out when it has one. */
export function* readListStream(text: string, at: Locate, options: ListStreamOptions): Generator<StreamDocument> {
  const parser = new Parser(options.lineCounter.addNewLine);
  options.lineCounter.addNewLine(0);
  // keepSourceTokens: the list's node is found by its CST token.
  const composer = new Composer({ ...options.parse, keepSourceTokens: true });
  const entryComposer = new Composer(options.parse);
  const states: Array<DocumentState | undefined> = [];
  let current: DocumentState | undefined;
  let directives = false;
  let scalarNext = false;

  function* compose(token: CST.Token): Generator<StreamDocument> {
    if (token.type === 'document') {
      const state = current?.token === token ? current : undefined;
      if (state?.taking) hookSplit(state.taking);
      states.push(state);
    }
    for (const doc of composer.next(token)) yield finish(doc, states.shift());
  }

  /** Notes, when the composer reaches the list, how many errors came before (the taken entries' come next). */
  const hookSplit = (taking: Taking) => {
    const record = () => {
      taking.split ??= composer.streamInfo().errors.length;
    };
    const items = taking.list.items as ListItem[];
    if (taking.flow) {
      // resolveFlowCollection loops by index: a stand-in first entry records when it is composed.
      const value = blank(taking.end);
      let type = value.type;
      Object.defineProperty(value, 'type', {
        get: () => {
          record();
          return type;
        },
        set: (t) => {
          type = t;
        },
      });
      const start: CST.SourceToken[] = taking.newline
        ? [{ type: 'newline', offset: taking.end, indent: 0, source: '\n' }]
        : [];
      items.unshift({ start, value });
    } else {
      // resolveBlockSeq iterates the items; its first entry starts composing where the last taken one ended.
      taking.list.offset = taking.end;
      Object.defineProperty(items, Symbol.iterator, {
        value: function* () {
          record();
          for (let i = 0; i < items.length; i++) yield items[i];
        },
      });
    }
  };

  const finish = (doc: Document.Parsed, state: DocumentState | undefined): StreamDocument => {
    const taking = state?.taking;
    const errors = doc.errors;
    // The whole document's first error: one from before the list, else the entries', else the rest's.
    const before = taking?.split === undefined ? errors.length : taking.split;
    const error = before > 0 ? errors[0] : undefined;
    const syntax = error ? syntaxProblem(error) : (taking?.syntax ?? (errors[0] && syntaxProblem(errors[0])));
    if (syntax) return { ok: false, error: `${at(syntax.offset)}: YAML syntax error: ${syntax.message}` };
    const list = taking ? nodeOf(doc, taking.list) : undefined;
    const duplicate = firstDuplicate(doc, list, taking?.duplicate);
    if (duplicate) return { ok: false, error: `${at(duplicate.offset)}: YAML syntax error: ${duplicate.message}` };
    const read = toJS(doc);
    const problem = read.ok ? taking?.value : read.problem;
    if (problem) return { ok: false, error: `${at(problem.offset)}: YAML error: ${problem.message}` };
    const taken = taking && list ? { list, skip: taking.flow ? 1 : 0, entries: taking.entries } : undefined;
    return { ok: true, doc, value: read.ok ? read.value : undefined, taken };
  };

  /** Takes the complete entries out of the list being built, but the last two (the parser still reads those). */
  const take = (type: string | null) => {
    const top = parser.stack[0];
    if (top?.type !== 'document') return;
    if (current?.token !== top) current = { token: top, stopped: directives, taking: undefined };
    if (type === 'anchor' || type === 'alias') current.stopped = true;
    if (current.stopped) return;
    const found = listOf(parser.stack, options.isListKey);
    if (found === undefined || found.list.items.length <= 2) return;
    if (current.taking === undefined) current.taking = new Taking(found.list, found.root);
    const taking = current.taking;
    if (taking.list !== found.list) {
      current.stopped = true; // a second list in one document: keep to one
      return;
    }
    const items = taking.list.items as ListItem[];
    const count = items.length - 2;
    for (let i = 0; i < count; i++) takeEntry(taking, items[i]!);
    items.splice(0, count);
  };

  const takeEntry = (taking: Taking, item: ListItem) => {
    const first = taking.entries.length === 0;
    const list = taking.list;
    let value: CST.BlockSequence | CST.FlowCollection;
    let index = 0;
    if (list.type === 'block-seq') {
      value = {
        type: 'block-seq',
        offset: taking.end,
        indent: list.indent,
        items: [item as CST.BlockSequence['items'][number]],
      };
    } else {
      fixFlowSeqItem(item as CST.CollectionItem);
      taking.newline ||= itemHasNewline(item as CST.CollectionItem);
      const items: CST.CollectionItem[] = [item as CST.CollectionItem];
      if (!first) {
        items.unshift({ start: [], value: blank(taking.end) });
        index = 1;
      }
      // Never the last entry of its list (two stay behind): a comma and an entry follow.
      const after = taking.end;
      items.push({ start: [{ type: 'comma', offset: after, indent: 0, source: ',' }], value: blank(after) });
      value = {
        type: 'flow-collection',
        offset: list.offset,
        // A list that is the document's root gets indent 0 when the parser completes it (parser.ts `pop`).
        indent: taking.root ? 0 : list.indent,
        start: list.start,
        items,
        end: [{ type: 'flow-seq-end', offset: after, indent: 0, source: ']' }],
      };
    }
    const token: CST.Document = { type: 'document', offset: value.offset, start: [], value };
    const [doc] = [...entryComposer.next(token), ...entryComposer.end()];
    if (doc === undefined) throw new Error('composing a list entry gave no document');
    const error = doc.errors[0];
    if (error && !taking.syntax) taking.syntax = syntaxProblem(error);
    if (!taking.duplicate) taking.duplicate = firstDuplicate(doc, undefined, undefined);
    const read = toJS(doc);
    if (!read.ok) taking.value ??= read.problem;
    // An entry with neither indicator nor content (only comments) composes to no node, in its list as here.
    const nodes = isSeq(doc.contents) ? doc.contents.items : [];
    const node = nodes.length === index + (list.type === 'block-seq' ? 1 : 2) ? nodes[index] : undefined;
    if (!isNode(node) || node.range == null) return;
    taking.end = node.range[2];
    taking.entries.push({
      value: read.ok ? options.keep((read.value as unknown[])[index]) : undefined,
      offset: node.range[0],
    });
  };

  const lexer = new Lexer();
  for (const lexeme of lexer.lex(text)) {
    const type = scalarNext ? 'scalar' : CST.tokenType(lexeme);
    scalarNext = lexeme === CST.SCALAR;
    if (type === 'directive-line') directives = true;
    for (const token of parser.next(lexeme)) yield* compose(token);
    take(type);
  }
  for (const token of parser.end()) yield* compose(token);
  for (const doc of composer.end()) yield finish(doc, states.shift());
}

/** An empty plain scalar at `offset`: a stand-in entry that composes to null, without errors, and ends there. */
function blank(offset: number): CST.FlowScalar {
  return { type: 'scalar', offset, indent: 0, source: '' };
}

/** A block sequence or a flow `[` (not a type guard: a flow `{` is a collection too). */
function isList(token: CST.Token | undefined): boolean {
  return token?.type === 'block-seq' || (token?.type === 'flow-collection' && token.start.source === '[');
}

/** The list being built: the root sequence, or the sequence under a list key of the root map. */
function listOf(
  stack: readonly CST.Token[],
  isListKey: (source: string) => boolean,
): { list: List; root: boolean } | undefined {
  const [, first, second] = stack;
  if (first === undefined) return undefined;
  if (isList(first)) return { list: first as List, root: true };
  if (second === undefined || !isList(second)) return undefined;
  // A root map (block, or flow `{`: a `[` root was a list above).
  if (first.type !== 'block-map' && first.type !== 'flow-collection') return undefined;
  const item = first.items.at(-1) as CST.CollectionItem | undefined;
  const key = item?.key;
  if (!item || !key || !item.sep || item.value || 'explicitKey' in item) return undefined;
  if (key.type !== 'scalar' && key.type !== 'double-quoted-scalar' && key.type !== 'single-quoted-scalar') {
    return undefined;
  }
  if (!item.sep.some((t) => t.type === 'map-value-ind')) return undefined;
  return isListKey(key.source) ? { list: second as List, root: false } : undefined;
}

/** The node composed from `token` (found by the source token the composer kept on it). */
function nodeOf(doc: Document.Parsed, token: CST.Token): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Seq(_key, node) {
      if ((node as { srcToken?: unknown }).srcToken !== token) return undefined;
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * The first repeated key in `doc` in `visit` order (./locate.ts firstDuplicateKey), with `taken` (the first among
 * the entries taken out of `list`) where `visit` would have reached them: when it reaches the list.
 */
function firstDuplicate(
  doc: Document.Parsed,
  list: Node | undefined,
  taken: YamlProblem | undefined,
): YamlProblem | undefined {
  let problem: YamlProblem | undefined;
  visit(doc, {
    Map(_key, map) {
      problem = duplicateKeyIn(map);
      return problem ? visit.BREAK : undefined;
    },
    Seq(_key, node) {
      if (node !== list || taken === undefined) return undefined;
      problem = taken;
      return visit.BREAK;
    },
  });
  return problem;
}

/**
 * What the parser does to a flow sequence's entries when it completes the sequence (parser.ts `fixFlowSeqItems`),
 * for one entry taken out before: `[a]`'s `a` is read as a key, and becomes the entry's value.
 */
function fixFlowSeqItem(it: CST.CollectionItem): void {
  if (!it.sep || it.value) return;
  if (it.start.some((t) => t.type === 'explicit-key-ind') || it.sep.some((t) => t.type === 'map-value-ind')) return;
  if (it.key) it.value = it.key;
  delete it.key;
  const value = it.value;
  if (value && isFlowToken(value)) {
    if (value.end) for (const token of it.sep) value.end.push(token);
    else value.end = it.sep;
  } else {
    for (const token of it.sep) it.start.push(token);
  }
  delete it.sep;
}

/** yaml's compose/util-contains-newline.ts `containsNewline`, for one entry of a flow collection. */
function itemHasNewline(it: CST.CollectionItem): boolean {
  if (it.start.some((t) => t.type === 'newline') || it.sep?.some((t) => t.type === 'newline')) return true;
  return containsNewline(it.key) || containsNewline(it.value);
}

function containsNewline(token: CST.Token | null | undefined): boolean {
  if (!token) return false;
  switch (token.type) {
    case 'alias':
    case 'scalar':
    case 'double-quoted-scalar':
    case 'single-quoted-scalar':
      return token.source.includes('\n') || (token.end ?? []).some((t) => t.type === 'newline');
    case 'flow-collection':
      return token.items.some(itemHasNewline);
    default:
      return true;
  }
}

function isFlowToken(token: CST.Token): token is CST.FlowScalar | CST.FlowCollection {
  return (
    token.type === 'alias' ||
    token.type === 'scalar' ||
    token.type === 'single-quoted-scalar' ||
    token.type === 'double-quoted-scalar' ||
    token.type === 'flow-collection'
  );
}
