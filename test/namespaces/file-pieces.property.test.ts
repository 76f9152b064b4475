/**
 * A large namespace file is read entry by entry (src/namespaces/file-items.ts) instead of as one syntax tree. Over
 * random files of every shape the file source accepts — a List in block or flow (JSON) style, a root sequence, a
 * multi-document stream — with block scalars, quoted multi-line strings, comments, extra fields and invalid entries,
 * and over the same files with a character inserted, reading it in pieces gives what reading it whole gives: the
 * same verdict, the same namespaces, and for an entry that is valid YAML but not a valid namespace the same error
 * (file, line, column, item and message). A YAML syntax error may be reported differently (an entry read on its own
 * sees less context, and a later entry's syntax error may come after an earlier entry's validation error); the file
 * source then reads the file whole for the message when it can afford to, which this checks too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseNamespaceFile, parseNamespaceFileInPieces } from '../../src/namespaces/file-source.ts';

const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/), fc.constantFrom('shop', 'UPPER', 'a_b', ''));
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('- not an item', 'a: b', 'line one\n- two\nthree: 3', '"quoted"', '#hash', '{x}'),
);
const labels = fc.dictionary(
  fc.oneof(fc.constantFrom('dns-tuner.io/policy', 'team', 'dns-tuner.io/mode'), fc.string({ maxLength: 6 })),
  fc.oneof(text, fc.integer()),
  { maxKeys: 3 },
);
const namespace = fc.record(
  {
    apiVersion: fc.constantFrom('v1', 'v2'),
    kind: fc.constantFrom('Namespace', 'Pod'),
    metadata: fc.record(
      {
        name,
        labels,
        annotations: labels,
        managedFields: fc.constant([{ manager: 'kubectl', fieldsV1: { 'f:metadata': { '.': {} } } }]),
      },
      { requiredKeys: [] },
    ),
    spec: fc.constant({ finalizers: ['kubernetes'] }),
    status: fc.constant({ phase: 'Active' }),
  },
  { requiredKeys: ['metadata'] },
);
const items = fc.array(fc.oneof({ weight: 9, arbitrary: namespace }, { weight: 1, arbitrary: text }), { maxLength: 6 });

const shapes = fc.constantFrom('list', 'list-indented', 'json', 'json-compact', 'sequence', 'flow-sequence', 'stream');

function render(shape: string, list: unknown[]): string {
  const doc = { apiVersion: 'v1', kind: 'List', items: list, metadata: { resourceVersion: '' } };
  switch (shape) {
    case 'list':
      return `# kubectl get ns -o yaml\n${stringify(doc, { indentSeq: false })}`;
    case 'list-indented':
      return stringify(doc, { indentSeq: true, lineWidth: 20 });
    case 'json':
      return JSON.stringify(doc, null, 4);
    case 'json-compact':
      return JSON.stringify({ kind: 'NamespaceList', items: list });
    case 'sequence':
      return list.length === 0 ? '[]\n' : stringify(list, { indentSeq: false });
    case 'flow-sequence':
      return JSON.stringify(list, null, 1);
    default:
      return list.map((item) => `---\n${stringify(item)}`).join('# between\n');
  }
}

const damage = fc.oneof(
  fc.constant(undefined),
  fc.record({ at: fc.nat(), insert: fc.constantFrom(':', '-', ' ', '\n', '"', '[', '{', '}', 'x', '\t', '&a ', '*a') }),
);

function damaged(source: string, how: { at: number; insert: string } | undefined): string {
  if (how === undefined) return source;
  const at = how.at % (source.length + 1);
  return source.slice(0, at) + how.insert + source.slice(at);
}

const result = (parsed: ReturnType<typeof parseNamespaceFile>) =>
  parsed.ok ? { ok: true, namespaces: [...parsed.namespaces.entries()] } : parsed;

describe('reading a namespace file in pieces', () => {
  it('gives what reading it whole gives', () => {
    fc.assert(
      fc.property(shapes, items, damage, (shape, list, how) => {
        const source = damaged(render(shape, list), how);
        const whole = parseNamespaceFile(source, 'ns.yaml');
        const pieces = parseNamespaceFileInPieces(source, 'ns.yaml');
        if (whole.ok || pieces.ok || !whole.error.includes('YAML')) expect(result(pieces)).toEqual(result(whole));
        else expect(pieces.error).toMatch(/^ns\.yaml:\d+:\d+: /);
        // What the source does with a large file: pieces, and the whole file for the message of a bad one.
        const large = parseNamespaceFile(source, 'ns.yaml', { piecewiseAbove: 0, wholeUpTo: source.length });
        expect(result(large)).toEqual(result(whole));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads the example shapes', () => {
    for (const source of [
      'apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n',
      'kind: List\nitems:\n  - metadata:\n      name: a\n  - metadata: {name: b}\nmetadata: {}\n',
      '{"kind": "List", "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}',
      '- metadata: {name: a}\n- metadata: {name: b}\n',
      'metadata: {name: a}\n---\nmetadata: {name: b}\n',
    ]) {
      expect(result(parseNamespaceFileInPieces(source, 'ns.yaml'))).toMatchObject({
        ok: true,
        namespaces: [
          ['a', {}],
          ['b', {}],
        ],
      });
    }
  });
});
