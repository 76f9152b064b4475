/**
 * The offline sources: Namespaces and the cluster-facts objects read from one YAML file (for `npm start`, `dns-tuner
 * explain`, tests and demos without a cluster). Accepts what `kubectl get … -o yaml` prints (a `List` or `…List` with
 * `items`), multi-document streams (`---` separated), or a plain YAML sequence of objects; every kind the cluster
 * facts read (Namespace, NetworkPolicy, Service, ConfigMap, DaemonSet), in any mix:
 *
 *   (kubectl get ns,networkpolicies -A -o yaml; echo ---;
 *    kubectl -n kube-system get svc/kube-dns cm/coredns ds -o yaml) > cluster.yaml
 *
 * An item without `kind` is a Namespace (older files). A kind absent from the file is a fact not known: the config is
 * trusted for it, as without a file (so a file of Namespaces only behaves as it always did).
 */

import { isMap, isNode, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import {
  assembleFacts,
  type ConfigMapEntry,
  FACT_OF_RESOURCE,
  FACT_RESOURCES,
  type FactResource,
  groupByNamespace,
  projectConfigMap,
  projectDaemonSet,
  projectNetworkPolicy,
  projectService,
  type ServiceEntry,
} from '../cluster/objects.ts';
import type { ClusterFactsSource } from '../cluster/source.ts';
import type { ClusterFact, DaemonSetView } from '../core/cluster.ts';
import type { NetworkPolicy } from '../core/network-policy.ts';
import { showValue } from '../core/show-value.ts';
import { DEFAULT_DISCOVERY, type Discovery, type NamespaceInfo } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { describeReadError, readSnapshot } from '../watch/files.ts';
import { readListStream, type StreamDocument } from '../yaml/list-stream.ts';
import { documentValue, type Locate, locator, PARSE_OPTIONS } from '../yaml/locate.ts';
import { describeIssues } from '../zod/issues.ts';
import { slimEntry } from './file-entry.ts';
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

/** The cluster-facts objects of a file, by kind; a kind the file does not hold is undefined. */
export interface FileObjects {
  services?: Map<string, ServiceEntry> | undefined;
  configMaps?: Map<string, ConfigMapEntry> | undefined;
  daemonSets?: DaemonSetView[] | undefined;
  /** By namespace. */
  networkPolicies?: Map<string, NetworkPolicy[]> | undefined;
}

export type ObjectFileParse =
  | { ok: true; namespaces: Map<string, NamespaceInfo>; objects: FileObjects }
  | { ok: false; error: string };

export type NamespaceFileParse = { ok: true; namespaces: Map<string, NamespaceInfo> } | { ok: false; error: string };

/** The kinds a file may hold, and the fact resource each gives (Namespace: none). */
const KINDS: Record<string, FactResource | 'namespaces'> = {
  Namespace: 'namespaces',
  NetworkPolicy: 'networkpolicies',
  Service: 'services',
  ConfigMap: 'configmaps',
  DaemonSet: 'daemonsets',
};
const KIND_NAMES = Object.keys(KINDS).join(', ');

/** Parses the file's text: only the Namespaces (see parseObjectFile). */
export function parseNamespaceFile(text: string, fileName: string): NamespaceFileParse {
  const parsed = parseObjectFile(text, fileName);
  return parsed.ok ? { ok: true, namespaces: parsed.namespaces } : parsed;
}

/**
 * Files above this many characters are read entry by entry (src/yaml/list-stream.ts): one syntax tree of a 12 MB
 * `kubectl get ns -o yaml` (10,000 namespaces) takes ~170 MiB of heap, past the Deployment's 192 MiB. Both reads give
 * the same namespaces, objects and errors; the whole read is the simpler one, for the files most people have.
 */
export const STREAM_ABOVE = 1024 * 1024;

/** An item of the file: its value, and where its node starts in the file (for error positions). */
interface Item {
  value: unknown;
  offset: number | undefined;
}

/**
 * Parses the file's text; `fileName` only labels errors (`file:line: item 2 (shop): labels …`). A text longer than
 * `streamAbove` characters is read entry by entry.
 */
export function parseObjectFile(text: string, fileName: string, streamAbove = STREAM_ABOVE): ObjectFileParse {
  const lineCounter = new LineCounter();
  const at = locator(fileName, lineCounter);
  const documents =
    text.length > streamAbove
      ? readListStream(text, at, { lineCounter, parse: PARSE_OPTIONS, isListKey, keep: slimEntry })
      : wholeDocuments(text, fileName, lineCounter, at);
  const items: Item[] = [];
  for (const read of documents) {
    if (!read.ok) return read;
    const problem = itemsOfDocument(read, at, items);
    if (problem) return problem;
  }
  return validateItems(items, at);
}

/** The file as one syntax tree per document (`parseAllDocuments`). */
function* wholeDocuments(
  text: string,
  fileName: string,
  lineCounter: LineCounter,
  at: Locate,
): Generator<StreamDocument> {
  const docs = parseAllDocuments(text, { lineCounter, ...PARSE_OPTIONS });
  if (!Array.isArray(docs)) {
    yield { ok: false, error: `${fileName}: not a YAML document stream` };
    return;
  }
  for (const doc of docs) {
    const read = documentValue(doc, at);
    yield read.ok ? { ok: true, doc, value: read.value, taken: undefined } : read;
  }
}

/** `items`, `"items"` or `'items'`: the key of a List's entries. */
function isListKey(source: string): boolean {
  return source === 'items' || source === '"items"' || source === "'items'";
}

/**
 * The items of one document, appended to `items`: a sequence's entries, a List's `items`, or the document itself;
 * entries the stream reader took out of the list come first.
 */
function itemsOfDocument(
  { doc, value, taken }: Extract<StreamDocument, { ok: true }>,
  at: Locate,
  items: Item[],
): { ok: false; error: string } | undefined {
  if (value === null || value === undefined) return undefined; // empty document (a trailing `---`)
  const contents = doc.contents;
  /** Where the list's own entries start among its nodes and values (after the taken ones' stand-in). */
  const from = (list: unknown): number => {
    if (taken === undefined || list !== taken.list) return 0;
    for (const entry of taken.entries) items.push(entry);
    return taken.skip;
  };
  if (isSeq(contents)) {
    for (let i = from(contents); i < contents.items.length; i++) {
      items.push({ value: (value as unknown[])[i], offset: offsetOf(contents.items[i]) });
    }
  } else if (isMap(contents) && isListKind((value as { kind?: unknown }).kind)) {
    const list = contents.get('items', true);
    const jsItems = ((value as { items?: unknown }).items ?? []) as unknown[];
    if (!isSeq(list) && list !== undefined && list !== null) {
      return {
        ok: false,
        error: `${at(contents.range?.[0])}: ${(value as { kind: string }).kind}.items must be a list`,
      };
    }
    for (let i = from(list); i < jsItems.length; i++) {
      items.push({ value: jsItems[i], offset: isSeq(list) ? offsetOf(list.items[i]) : undefined });
    }
  } else {
    items.push({ value, offset: contents?.range?.[0] });
  }
  return undefined;
}

function validateItems(items: readonly Item[], at: Locate): ObjectFileParse {
  const namespaces = new Map<string, NamespaceInfo>();
  const objects: FileObjects = {};
  const policies: NetworkPolicy[] = [];
  const seen = new Set<string>();
  for (const [index, item] of items.entries()) {
    const raw = item.value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    const rawName = raw?.metadata?.name;
    const label = `item ${index + 1}${typeof rawName === 'string' ? ` (${rawName})` : ''}`;
    const fail = (message: string): ObjectFileParse => ({
      ok: false,
      error: `${at(item.offset)}: ${label}: ${message}`,
    });
    const kind = isPlainObject(raw) ? (raw.kind ?? 'Namespace') : 'Namespace';
    const resource = typeof kind === 'string' && Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
    if (resource === undefined) return fail(`kind: must be one of ${KIND_NAMES}, got ${showValue(kind)}`);
    if (resource === 'namespaces') {
      const result = namespaceSchema.safeParse(item.value);
      if (!result.success) return fail(describeIssues(result.error, { root: '' }));
      const { metadata } = result.data;
      if (namespaces.has(metadata.name)) return fail(`namespace "${metadata.name}" is listed twice`);
      namespaces.set(metadata.name, toNamespaceInfo(metadata));
      continue;
    }
    const key = `${kind} ${String(raw?.metadata?.namespace)}/${String(rawName)}`;
    if (seen.has(key)) return fail(`${key} is listed twice`);
    seen.add(key);
    try {
      const name = `${String(raw?.metadata?.namespace)}/${String(rawName)}`;
      switch (resource) {
        case 'services':
          objects.services ??= new Map();
          objects.services.set(name, projectService(item.value));
          break;
        case 'configmaps':
          objects.configMaps ??= new Map();
          objects.configMaps.set(name, projectConfigMap(item.value));
          break;
        case 'daemonsets': {
          const ds = projectDaemonSet(item.value);
          objects.daemonSets ??= [];
          if (ds !== undefined) objects.daemonSets.push(ds);
          break;
        }
        case 'networkpolicies': {
          const policy = projectNetworkPolicy(item.value);
          if (policy !== undefined) policies.push(policy);
          objects.networkPolicies ??= new Map();
          break;
        }
      }
    } catch (error) {
      return fail((error as Error).message);
    }
  }
  if (objects.networkPolicies !== undefined) objects.networkPolicies = groupByNamespace(policies);
  return { ok: true, namespaces, objects };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function offsetOf(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

/** `List` (kubectl with several kinds), or `NamespaceList`, `NetworkPolicyList`… (one kind). */
function isListKind(kind: unknown): boolean {
  return (
    typeof kind === 'string' && (kind === 'List' || (kind.endsWith('List') && Object.hasOwn(KINDS, kind.slice(0, -4))))
  );
}

/** A namespace file that cannot be read or does not validate (DNS_TUNER_BAD_NAMESPACE_FILE). */
export class NamespaceFileError extends DnsTunerError {
  constructor(detail: string) {
    super('DNS_TUNER_BAD_NAMESPACE_FILE', detail);
    this.name = 'NamespaceFileError';
  }
}

/** Both offline sources over one file, read once by whichever starts first. */
export interface ObjectFile {
  namespaces: NamespaceSource;
  /** The cluster facts of the file; a kind it does not hold is not known (the config is trusted for it). */
  clusterFacts: ClusterFactsSource;
}

/**
 * `start()` (of either source) reads and validates the file, rejecting with a NamespaceFileError that names the
 * problem. `discovery` names the kube-dns Service, the CoreDNS ConfigMap and the node-local namespace in the file.
 */
export function openObjectFile(path: string, discovery: Discovery = DEFAULT_DISCOVERY): ObjectFile {
  let loaded: Promise<void> | undefined;
  let namespaces: Map<string, NamespaceInfo> | undefined;
  let objects: FileObjects | undefined;
  const load = () => {
    loaded ??= (async () => {
      const [file] = await readSnapshot([path]);
      if (!file?.data) throw new NamespaceFileError(`${path}: ${describeReadError(file?.error)}`);
      const parsed = parseObjectFile(file.data.toString('utf8'), path);
      if (!parsed.ok) throw new NamespaceFileError(parsed.error);
      namespaces = parsed.namespaces;
      objects = parsed.objects;
    })();
    return loaded;
  };
  const origin = `file ${path}`;
  const unknown = (present: FileObjects | undefined): Partial<Record<ClusterFact, string>> => {
    if (present === undefined) {
      return Object.fromEntries(FACT_RESOURCES.map((r) => [FACT_OF_RESOURCE[r], `${origin} is not loaded`]));
    }
    const held: Record<FactResource, unknown> = {
      services: present.services,
      configmaps: present.configMaps,
      daemonsets: present.daemonSets,
      networkpolicies: present.networkPolicies,
    };
    const out: Partial<Record<ClusterFact, string>> = {};
    for (const resource of FACT_RESOURCES) {
      if (held[resource] === undefined) out[FACT_OF_RESOURCE[resource]] = `no ${resource} in ${origin}`;
    }
    return out;
  };
  return {
    namespaces: {
      start: load,
      async stop() {},
      async lookup(name): Promise<NamespaceLookup> {
        if (!namespaces) return { found: false, error: `namespace file ${path} is not loaded` };
        const namespace = namespaces.get(name);
        return namespace ? { found: true, namespace } : { found: false };
      },
      entries: () => namespaces?.values() ?? [],
      status(): NamespaceSourceStatus {
        return namespaces
          ? { ready: true, size: namespaces.size }
          : { ready: false, reason: `namespace file ${path} not loaded yet`, size: 0 };
      },
    },
    clusterFacts: {
      start: load,
      async stop() {},
      onChange() {},
      status: () => (objects ? { ready: true } : { ready: false, reason: `${origin} not loaded yet` }),
      facts(namespace) {
        const present = objects ?? {};
        const policies = present.networkPolicies;
        return assembleFacts(
          discovery,
          {
            origin,
            services: present.services,
            configMaps: present.configMaps,
            daemonSets: present.daemonSets,
            policiesOf: policies === undefined ? undefined : (ns) => policies.get(ns) ?? [],
            unknown: unknown(objects),
          },
          namespace,
        );
      },
    },
  };
}

/** `start()` reads and validates the file (rejecting with a NamespaceFileError that names the problem). */
export function createFileNamespaceSource(path: string): NamespaceSource {
  return openObjectFile(path).namespaces;
}
