/**
 * A namespace file cut into pieces small enough to parse one at a time, so a large file never becomes one syntax
 * tree: the `yaml` package's tree of `kubectl get ns -o yaml` for 10,000 namespaces (12 MB) takes ~170 MiB of heap
 * and its CST ~320 MiB, past the Deployment's 192 MiB heap, while the namespaces themselves need a few MiB.
 *
 * The file is read once with the `yaml` lexer (a stream of tokens, none kept), which finds each document and, in a
 * document that holds a list of namespaces — a List's root `items` key (block or flow) or a root sequence — where each
 * entry starts and ends. The caller (./file-source.ts) then parses every entry on its own and the rest of each
 * document with the entries cut out (a List's `items:` then reads as empty), mapping offsets back to the file.
 *
 * Not cut (the caller parses the file whole, as before): files with anchors (an alias may point into another entry)
 * or directives.
 */
import { CST, Lexer } from 'yaml';

/** A piece of the file: its text, and where that text's first character sits in the file. */
export interface Piece {
  text: string;
  offset: number;
}

/**
 * An entry of the list; `empty` is where the whole-file parse places an entry with no content (after its dash). A flow
 * entry's text is wrapped in `[` `]` (so it is read in flow context, as in the file): its value is that sequence's
 * only item.
 */
export interface Entry extends Piece {
  empty: number;
  flow: boolean;
}

export interface SplitDocument {
  /** The list is the document itself (a root sequence), not a List's `items`. */
  root: boolean;
  /**
   * The document with its entries cut out: `text` is the document without `cut.length` characters at file offset
   * `cut.at` (an offset ≥ cut.at in `text` lies cut.length further on in the file). What is left of a root sequence
   * is comments (or `[]` for a flow one); of a List, its other keys with `items:` empty.
   */
  rest: Piece & { cut: { at: number; length: number } | undefined };
  /** The list's entries, in order, each parseable on its own; `undefined` when the document is not a list. */
  entries: Entry[] | undefined;
}

const CONTROL = new Set(['\u0002', '\u0018', '\u001f']);
const SKIP = new Set(['space', 'newline', 'comment', 'byte-order-mark']);
const SCALARS = new Set(['scalar', 'double-quoted-scalar', 'single-quoted-scalar']);

interface Token {
  type: string;
  source: string;
  /** Offset and column of the token's first character that is not indentation. */
  offset: number;
  column: number;
  /** Flow depth before the token. */
  depth: number;
  /** Nothing but indentation before the token on its line. */
  startsLine: boolean;
}

/** `"items"`, `'items'` or `items`. */
function isItemsKey(source: string): boolean {
  return source === 'items' || source === '"items"' || source === "'items'";
}

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Where a document's list is, as far as the scan has found it. */
type ListState =
  | { kind: 'looking' }
  | { kind: 'block'; column: number; dashes: number[]; root: boolean; end: number | undefined }
  | { kind: 'flow'; depth: number; open: number; separators: number[]; close: number | undefined; root: boolean }
  | { kind: 'none' };

class DocumentScan {
  readonly start: number;
  hasContent = false;
  list: ListState = { kind: 'looking' };
  /** The last two content tokens, for `items` `:` before a value. */
  private previous: Token[] = [];
  private flowRoot = false;

  constructor(start: number) {
    this.start = start;
  }

  see(t: Token, text: string): void {
    if (SKIP.has(t.type)) return;
    const first = !this.hasContent;
    this.hasContent = true;
    const list = this.list;
    if (list.kind === 'looking') this.look(t, first);
    else if (list.kind === 'block' && list.end === undefined) {
      if (t.depth !== 0 || !t.startsLine) return;
      if (t.type === 'seq-item-ind' && t.column === list.column) list.dashes.push(t.offset);
      else if (t.column <= list.column) list.end = lineStartOf(text, t.offset);
    } else if (list.kind === 'flow' && list.close === undefined && t.depth === list.depth) {
      if (t.type === 'comma') list.separators.push(t.offset);
      else if (t.type === 'flow-seq-end') list.close = t.offset;
    }
    this.previous = [this.previous.at(-1)!, t].filter(Boolean);
  }

  private look(t: Token, first: boolean): void {
    if (first) {
      if (t.type === 'seq-item-ind' && t.depth === 0) {
        this.list = { kind: 'block', column: t.column, dashes: [t.offset], root: true, end: undefined };
        return;
      }
      if (t.type === 'flow-seq-start' && t.depth === 0) {
        this.list = { kind: 'flow', depth: 1, open: t.offset, separators: [], close: undefined, root: true };
        return;
      }
      this.flowRoot = t.type === 'flow-map-start' && t.depth === 0;
    }
    const [key, colon] = this.previous;
    if (key === undefined || colon === undefined || colon.type !== 'map-value-ind') return;
    if (!SCALARS.has(key.type) || !isItemsKey(key.source)) return;
    if (!this.flowRoot && key.depth === 0 && key.column === 0 && t.type === 'seq-item-ind' && t.depth === 0) {
      this.list = { kind: 'block', column: t.column, dashes: [t.offset], root: false, end: undefined };
    } else if (this.flowRoot && key.depth === 1 && t.type === 'flow-seq-start' && t.depth === 1) {
      this.list = { kind: 'flow', depth: 2, open: t.offset, separators: [], close: undefined, root: false };
    } else if ((this.flowRoot && key.depth === 1) || (!this.flowRoot && key.depth === 0 && key.column === 0)) {
      this.list = { kind: 'none' };
    }
  }

  /** The document as pieces, now that it ends at `end`. */
  finish(text: string, end: number): SplitDocument {
    const whole = (): SplitDocument => ({
      root: false,
      rest: { text: text.slice(this.start, end), offset: this.start, cut: undefined },
      entries: undefined,
    });
    const list = this.list;
    let from: number;
    let to: number;
    let entries: Entry[];
    if (list.kind === 'block') {
      from = lineStartOf(text, list.dashes[0]!);
      to = list.end ?? end;
      entries = list.dashes.map((dash, k) => {
        const lineStart = lineStartOf(text, dash);
        const next = k + 1 < list.dashes.length ? lineStartOf(text, list.dashes[k + 1]!) : to;
        const piece = text.slice(lineStart, next);
        const at = dash - lineStart;
        return {
          text: `${piece.slice(0, at)} ${piece.slice(at + 1)}`,
          offset: lineStart,
          empty: dash + 1,
          flow: false,
        };
      });
    } else if (list.kind === 'flow' && list.close !== undefined) {
      from = list.open + 1;
      to = list.close;
      entries = [];
      const bounds = [list.open, ...list.separators, list.close];
      for (let k = 0; k + 1 < bounds.length; k++) {
        const piece = text.slice(bounds[k]! + 1, bounds[k + 1]!);
        const blank = piece.length - piece.trimStart().length;
        // `[a, b]` has two entries; `[a, b, ]` does not have a third.
        if (piece.trim() === '' && k + 2 === bounds.length) continue;
        entries.push({ text: `[${piece}]`, offset: bounds[k]!, empty: bounds[k]! + 1 + blank, flow: true });
      }
    } else {
      return whole();
    }
    return {
      root: list.root,
      rest: {
        text: text.slice(this.start, from) + text.slice(to, end),
        offset: this.start,
        cut: { at: from, length: to - from },
      },
      entries,
    };
  }
}

/**
 * The file's documents, each with its list's entries cut out when it has one, or undefined when the file has to be
 * parsed whole (anchors or directives).
 */
export function splitNamespaceFile(text: string): SplitDocument[] | undefined {
  const documents: SplitDocument[] = [];
  let current = new DocumentScan(0);
  let offset = 0;
  let lineStart = 0;
  let depth = 0;
  let scalar = false;
  /** Whether a token other than indentation came since the last line start. */
  let lineHasContent = false;
  for (const source of new Lexer().lex(text)) {
    if (CONTROL.has(source)) {
      scalar = source === '\u001f';
      continue;
    }
    const type = scalar ? 'scalar' : (CST.tokenType(source) ?? 'scalar');
    scalar = false;
    if (type === 'anchor' || type === 'directive-line') return undefined;
    // A block scalar's content is one token that starts with its indentation.
    const indent = source.length - source.trimStart().length;
    const at = type === 'space' || type === 'newline' ? offset : offset + indent;
    const token: Token = { type, source, offset: at, column: at - lineStart, depth, startsLine: !lineHasContent };
    if (type === 'doc-start' && depth === 0 && current.hasContent) {
      documents.push(current.finish(text, offset));
      current = new DocumentScan(offset);
    }
    current.see(token, text);
    if (type === 'flow-map-start' || type === 'flow-seq-start') depth++;
    else if ((type === 'flow-map-end' || type === 'flow-seq-end') && depth > 0) depth--;
    const lastNewline = source.lastIndexOf('\n');
    if (lastNewline !== -1) {
      lineStart = offset + lastNewline + 1;
      // A token that ends a line (a block scalar's content) leaves the next line empty so far.
      lineHasContent = source.slice(lastNewline + 1).trim() !== '';
    } else if (type !== 'space') {
      lineHasContent = true;
    }
    offset += source.length;
  }
  documents.push(current.finish(text, offset));
  return documents;
}
