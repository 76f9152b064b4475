/**
 * A large object file is read entry by entry (src/yaml/list-stream.ts) instead of as one syntax tree. Over random files
 * of every shape the file source accepts — a List in block or flow (JSON) style, a root sequence, a multi-document
 * stream — holding every kind it takes (and some it does not), with comments, anchors, directives, block scalars and
 * invalid entries, intact and damaged, reading entry by entry gives exactly what reading the file whole gives: the
 * same namespaces and objects, or the same error (file, line, column, item and message).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ObjectFileParse, parseObjectFile } from '../../src/namespaces/file-source.ts';

const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/), fc.constantFrom('shop', 'UPPER', 'a_b', ''));
const text = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.constantFrom('- not an item', 'a: b', 'line one\n- two\nthree: 3', '"quoted"', '#hash', '{x}', '10.96.0.10'),
);
const labels = fc.dictionary(
  fc.oneof(fc.constantFrom('dns-tuner.io/policy', 'team', 'dns-tuner.io/mode'), fc.string({ maxLength: 6 })),
  fc.oneof(text, fc.integer()),
  { maxKeys: 3 },
);
const metadata = fc.record(
  {
    name,
    namespace: fc.constantFrom('kube-system', 'shop', 7),
    labels,
    annotations: fc.oneof(
      labels,
      fc.constant({ 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1"}\n' }),
    ),
    managedFields: fc.constant([{ manager: 'kubectl', fieldsV1: { 'f:metadata': { '.': {} } } }]),
  },
  { requiredKeys: [] },
);
const ip = fc.constantFrom('10.96.0.10', 'None', 'fd00::a', 'bad', '');
const kinds = {
  Namespace: fc.record(
    {
      apiVersion: fc.constantFrom('v1', 'v2'),
      kind: fc.constant('Namespace'),
      metadata,
      spec: fc.constant({ finalizers: ['kubernetes'] }),
      status: fc.constant({ phase: 'Active' }),
    },
    { requiredKeys: ['metadata'] },
  ),
  Service: fc.record({
    kind: fc.constant('Service'),
    metadata,
    spec: fc.record({ clusterIP: ip, clusterIPs: fc.array(ip, { maxLength: 2 }) }, { requiredKeys: [] }),
  }),
  ConfigMap: fc.record({
    kind: fc.constant('ConfigMap'),
    metadata,
    data: fc.oneof(
      fc.constant({ Corefile: '.:53 {\n    kubernetes cluster.local in-addr.arpa {\n    }\n}\n' }),
      fc.constant({ other: 1 }),
    ),
  }),
  DaemonSet: fc.record({
    kind: fc.constant('DaemonSet'),
    metadata,
    spec: fc.constant({
      template: { spec: { containers: [{ name: 'node-cache', args: ['-localip', '169.254.20.10,10.96.0.10'] }] } },
    }),
    status: fc.record({ desiredNumberScheduled: fc.constantFrom(3, 'x'), numberAvailable: fc.constant(3) }),
  }),
  NetworkPolicy: fc.record({
    kind: fc.constant('NetworkPolicy'),
    metadata,
    spec: fc.record({
      podSelector: fc.constant({}),
      policyTypes: fc.constantFrom(['Egress'], ['Ingress'], ['Sideways']),
      egress: fc.constant([{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }]),
    }),
  }),
  Pod: fc.record({ kind: fc.constant('Pod'), metadata }),
};
const object = fc.oneof(
  { weight: 8, arbitrary: kinds.Namespace },
  { weight: 1, arbitrary: kinds.Service },
  { weight: 1, arbitrary: kinds.ConfigMap },
  { weight: 1, arbitrary: kinds.DaemonSet },
  { weight: 1, arbitrary: kinds.NetworkPolicy },
  { weight: 1, arbitrary: kinds.Pod },
  { weight: 1, arbitrary: text },
);
const items = fc.array(object, { maxLength: 7 });

const shapes = fc.constantFrom(
  'list',
  'list-indented',
  'list-comments',
  'json',
  'json-compact',
  'sequence',
  'flow-sequence',
  'stream',
  'stream-of-lists',
  'anchored',
  'directive',
);

/** kubectl's order: `apiVersion`, `items`, `kind`, `metadata`. */
function list(entries: unknown[], kind = 'List'): Record<string, unknown> {
  return { apiVersion: 'v1', items: entries, kind, metadata: { resourceVersion: '' } };
}

function render(shape: string, entries: unknown[]): string {
  switch (shape) {
    case 'list':
      return `# kubectl get ns -o yaml\n${stringify(list(entries), { indentSeq: false })}`;
    case 'list-indented':
      return stringify(list(entries, 'NamespaceList'), { indentSeq: true, lineWidth: 20 });
    case 'list-comments':
      return stringify(list(entries), { indentSeq: false })
        .replaceAll('\n- ', '\n# between\n- ')
        .replace(/\n {2}/, ' # after\n  ');
    case 'json':
      return JSON.stringify(list(entries), null, 4);
    case 'json-compact':
      return JSON.stringify({ kind: 'List', items: entries });
    case 'sequence':
      return entries.length === 0 ? '[]\n' : stringify(entries, { indentSeq: false });
    case 'flow-sequence':
      return JSON.stringify(entries, null, 1);
    case 'stream':
      return entries.map((entry) => `---\n${stringify(entry)}`).join('# between\n');
    case 'stream-of-lists':
      return `${stringify(list(entries.slice(0, 4)))}---\n${JSON.stringify(list(entries.slice(4)), null, 2)}\n`;
    case 'anchored':
      return `anchor: &a {kind: List}\n${stringify(list(entries), { indentSeq: false })}`.replace(
        'kind: List\n',
        'kind: *a\n',
      );
    default:
      return `%YAML 1.1\n---\n${stringify(list(entries), { indentSeq: false })}`;
  }
}

const damage = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 5,
    arbitrary: fc.array(
      fc.record({
        at: fc.nat(),
        remove: fc.nat({ max: 2 }),
        /** Repeat the line at `at` (a repeated key) instead of inserting. */
        repeat: fc.boolean(),
        insert: fc.constantFrom(
          ':',
          '-',
          '- ',
          ' ',
          '  ',
          '\n',
          '"',
          "'",
          '[',
          ']',
          '{',
          '}',
          ',',
          'x',
          '\t',
          '&a ',
          '*a',
          '#',
          '? ',
          '|\n',
          '---\n',
          '...\n',
          '!!str ',
          'items: [1]\n',
          '',
        ),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  },
);

interface Edit {
  at: number;
  remove: number;
  repeat: boolean;
  insert: string;
}

function damaged(source: string, edits: Edit[] | undefined): string {
  let out = source;
  for (const { at, remove, repeat, insert } of edits ?? []) {
    const where = at % (out.length + 1);
    if (repeat) {
      const start = out.lastIndexOf('\n', where - 1) + 1;
      const end = out.indexOf('\n', where);
      const line = out.slice(start, end === -1 ? out.length : end + 1);
      out = out.slice(0, start) + line + out.slice(start);
    } else {
      out = out.slice(0, where) + insert + out.slice(where + remove);
    }
  }
  return out;
}

/** `RUNS=50000 npx vitest run <this file>` for a longer search. */
const RUNS = Number(process.env.RUNS ?? 3000);

const result = (parsed: ObjectFileParse) =>
  parsed.ok ? { ok: true, namespaces: [...parsed.namespaces.entries()], objects: parsed.objects } : parsed;

describe('reading an object file entry by entry', () => {
  it(
    'gives what reading it whole gives, intact or damaged',
    () => {
      fc.assert(
        fc.property(shapes, items, damage, (shape, entries, edits) => {
          const source = damaged(render(shape, entries), edits);
          const whole = parseObjectFile(source, 'f.yaml', Number.POSITIVE_INFINITY);
          const streamed = parseObjectFile(source, 'f.yaml', 0);
          expect(result(streamed)).toEqual(result(whole));
        }),
        { numRuns: RUNS },
      );
    },
    60_000 + RUNS * 20,
  );

  it('reads the example shapes', () => {
    for (const source of [
      'apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n- metadata: {name: c}\n',
      'kind: List\nitems:\n  - metadata:\n      name: a\n  - metadata: {name: b}\n  - metadata: {name: c}\nmetadata: {}\n',
      '{"kind": "List", "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}, {"metadata": {"name": "c"}}]}',
      '- metadata: {name: a}\n- metadata: {name: b}\n- metadata: {name: c}\n',
      'metadata: {name: a}\n---\nmetadata: {name: b}\n---\nmetadata: {name: c}\n',
    ]) {
      expect(result(parseObjectFile(source, 'ns.yaml', 0))).toMatchObject({
        ok: true,
        namespaces: [
          ['a', {}],
          ['b', {}],
          ['c', {}],
        ],
      });
    }
  });
});
