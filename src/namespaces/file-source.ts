/**
 * The offline NamespaceSource: Namespace objects read from a YAML file (for `npm start`, tests and demos without a
 * cluster). Accepts what `kubectl get ns -o yaml` prints (a `List`/`NamespaceList` with `items`), a multi-document
 * stream of Namespaces (`---` separated), or a plain YAML sequence of them.
 */

import { isMap, isNode, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { showValue } from '../admission/review.ts';
import type { NamespaceInfo } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { describeReadError, readSnapshot } from '../watch/files.ts';
import { documentValue, locator, PARSE_OPTIONS } from '../yaml/locate.ts';
import { describeIssues } from '../zod/issues.ts';
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

/** Parses the file's text; `fileName` only labels errors (`file:line: item 2 (shop): labels …`). */
export function parseNamespaceFile(text: string, fileName: string): NamespaceFileParse {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, ...PARSE_OPTIONS });
  if (!Array.isArray(docs)) return { ok: false, error: `${fileName}: not a YAML document stream` };
  const at = locator(fileName, lineCounter);
  // Each item with the offset of its node, for error positions.
  const items: Array<{ value: unknown; offset: number | undefined }> = [];
  for (const doc of docs) {
    const read = documentValue(doc, at);
    if (!read.ok) return read;
    const { value } = read;
    if (value === null || value === undefined) continue; // empty document (a trailing `---`)
    const contents = doc.contents;
    if (isSeq(contents)) {
      contents.items.forEach((node, i) => {
        items.push({ value: (value as unknown[])[i], offset: offsetOf(node) });
      });
    } else if (isMap(contents) && isListKind((value as { kind?: unknown }).kind)) {
      const list = contents.get('items', true);
      const jsItems = (value as { items?: unknown }).items ?? [];
      if (!isSeq(list) && list !== undefined && list !== null) {
        return {
          ok: false,
          error: `${at(contents.range?.[0])}: ${(value as { kind: string }).kind}.items must be a list`,
        };
      }
      (jsItems as unknown[]).forEach((item, i) => {
        items.push({
          value: item,
          offset: isSeq(list) ? offsetOf(list.items[i]) : undefined,
        });
      });
    } else {
      items.push({ value, offset: contents?.range?.[0] });
    }
  }

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
