/**
 * What `POST /dry-run` and `dns-tuner explain` accept, turned into the AdmissionRequest /mutate would receive for it.
 * Pure: no I/O. Every refusal is a coded DnsTunerError (returned, not thrown) that names what is wrong.
 *
 * Accepted objects: a Pod; a workload with a pod template (turned into the pod its controller would create); an
 * AdmissionReview (used as is, as /mutate would see it); and the "what if" wrapper
 * `{"namespace": {"labels": {…}, "annotations": {…}}, "object": <any of those>}`.
 */

import { LineCounter, parseAllDocuments, type Tags } from 'yaml';
import { z } from 'zod';
import { type AdmissionRequest, isJsonObject, parseAdmissionReview } from '../admission/review.ts';
import { showValue } from '../core/show-value.ts';
import type { NamespaceInfo } from '../core/types.ts';
import { isDnsLabel } from '../core/validation.ts';
import { DnsTunerError } from '../errors.ts';
import { parsePodView } from '../kube/pod.ts';
import { toNamespaceInfo } from '../namespaces/source.ts';
import { firstSyntaxError, PARSE_OPTIONS, toJS } from '../yaml/locate.ts';
import { describeIssues } from '../zod/issues.ts';

type Json = Record<string, unknown>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: DnsTunerError };

const fail = (error: DnsTunerError): { ok: false; error: DnsTunerError } => ({ ok: false, error });

/**
 * Where each controller keeps its pod template. The controllers copy the template's labels, annotations and
 * finalizers onto the pod and name it `<owner>-<random>` (k8s.io/kubernetes/pkg/controller GetPodFromTemplate).
 */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

const WORKLOAD_KINDS = Object.keys(POD_TEMPLATE_PATHS).join(', ');

/** How the input was read. */
export type InputForm = 'pod' | 'workload' | 'admission-review';

export interface DryRunTarget {
  form: InputForm;
  /** The object as sent: its kind, apiVersion and name (for the report's title and the log line). */
  kind: string;
  apiVersion?: string | undefined;
  name?: string | undefined;
  namespace: string;
  /** The review /mutate would get: the same object, namespace and operation. */
  request: AdmissionRequest;
  /** What dry-run filled in the way the apiserver does before admission, e.g. `spec.dnsPolicy=ClusterFirst`. */
  defaulted: string[];
}

/** The "what if" part of a wrapped request: replaces what the namespace source says. */
export interface WhatIf {
  name?: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// YAML

export interface YamlDocument {
  value: unknown;
  /** 1-based line where the document starts (for messages about one object in a multi-document file). */
  line: number;
}

/**
 * Reads a YAML (or JSON) stream as kubectl does: YAML 1.1, like the go-yaml v2 behind sigs.k8s.io/yaml (`yes`/`on` are
 * booleans, `<<` merges a mapping), so a manifest kubectl applies reads the same here. A syntax error names its line
 * and column. Empty documents are dropped.
 */
export function parseYamlDocuments(text: string, label = 'YAML'): Parsed<YamlDocument[]> {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter,
    ...PARSE_OPTIONS,
    version: '1.1',
    customTags: withoutTimestamps,
  });
  if (!Array.isArray(docs)) return fail(new DnsTunerError('DNS_TUNER_BAD_YAML', `${label}: not a YAML stream`));
  const out: YamlDocument[] = [];
  for (const doc of docs) {
    const syntax = firstSyntaxError(doc);
    if (syntax) {
      const { line, col } = lineCounter.linePos(syntax.offset ?? 0);
      return fail(new DnsTunerError('DNS_TUNER_BAD_YAML', `line ${line}, column ${col}: ${syntax.message}`));
    }
    const contents = doc.contents;
    // Too many aliases (a "billion laughs" document), or an alias to nothing.
    const parsed = toJS(doc, { maxAliasCount: 100 });
    if (!parsed.ok) return fail(new DnsTunerError('DNS_TUNER_BAD_YAML', parsed.problem.message));
    // A document with only comments, `---` or `~` carries nothing.
    if (contents === null || parsed.value === null || parsed.value === undefined) continue;
    const json = asJson(parsed.value);
    if (!json.ok) return json;
    const value = json.value;
    out.push({ value, line: lineCounter.linePos(contents.range?.[0] ?? 0).line });
  }
  return { ok: true, value: out };
}

/** The most JSON one document may expand to: what /mutate itself accepts (the apiserver's 3 MiB request limit). */
export const MAX_DOCUMENT_JSON_BYTES = 3 * 1024 * 1024;

/**
 * The document as JSON, as kubectl turns YAML into JSON before sending it: `!!binary`, `!!timestamp`, `!!set` become
 * what JSON makes of them, and aliases are expanded — which is where a 1 MB body aliasing a long string 99 times
 * becomes 100 MB. Refused (coded, 413) past MAX_DOCUMENT_JSON_BYTES instead of growing in the caller's heap.
 */
function asJson(value: unknown): Parsed<unknown> {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // RangeError: Invalid string length (past V8's maximum string), or a cycle.
    json = undefined;
  }
  if (json === undefined || json.length > MAX_DOCUMENT_JSON_BYTES) {
    const why = `it expands to more than ${MAX_DOCUMENT_JSON_BYTES} bytes of JSON (aliases or binary data)`;
    return fail(new DnsTunerError('DNS_TUNER_YAML_TOO_COSTLY', why));
  }
  return { ok: true, value: JSON.parse(json) };
}

/**
 * Dates stay strings: every Kubernetes field that holds one is a string (annotations, creationTimestamp), and a Date
 * would come back from JSON as another string than the one written.
 */
function withoutTimestamps(tags: Tags): Tags {
  return tags.filter((tag) => typeof tag === 'string' || tag.tag !== 'tag:yaml.org,2002:timestamp');
}

/** Exactly one object: what the endpoint takes in one request. */
export function singleDocument(docs: readonly YamlDocument[]): Parsed<unknown> {
  if (docs.length === 0) return fail(new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', 'the body is empty'));
  if (docs.length > 1) {
    const second = docs[1]!.line;
    const message = `the body holds ${docs.length} YAML documents (the second starts on line ${second}); send one object per request`;
    return fail(new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', message));
  }
  return { ok: true, value: docs[0]!.value };
}

/**
 * Every object of a file, as `dns-tuner explain -f` reads it: the documents of a stream, and the items of a
 * `kind: List` (what `kubectl get … -o yaml` prints for several objects).
 */
export function objectsOf(docs: readonly YamlDocument[]): unknown[] {
  const objects: unknown[] = [];
  for (const doc of docs) {
    const v = doc.value;
    // One by one: a spread of a long list overflows the stack.
    if (isJsonObject(v) && isListKind(v.kind) && Array.isArray(v.items)) for (const item of v.items) objects.push(item);
    else objects.push(v);
  }
  return objects;
}

function isListKind(kind: unknown): boolean {
  return typeof kind === 'string' && kind.endsWith('List');
}

/**
 * No Kubernetes object nests this deep (a pod's deepest fields, under affinity, are about a dozen levels down); deeper
 * input is refused before anything recursive (the JSON Patch diff, a report's JSON) meets it.
 */
export const MAX_DEPTH = 256;

/** Walks the value without recursion (a 100k-deep array is refused, not a stack overflow), in time linear in its size. */
export function checkDepth(value: unknown, max = MAX_DEPTH): Parsed<unknown> {
  // Two parallel stacks of plain values: no tuple or Object.values() array per node (3 MB of JSON has 300k nodes).
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop() as number;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) {
      return fail(new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', `it is nested deeper than ${max} levels`));
    }
    if (Array.isArray(v)) {
      for (const child of v) {
        if (typeof child === 'object' && child !== null) {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in v) {
        const child = (v as Record<string, unknown>)[key];
        if (typeof child === 'object' && child !== null) {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return { ok: true, value };
}

// ---------------------------------------------------------------------------------------------------------------
// The "what if" wrapper

const stringMap = z.record(z.string(), z.string({ error: (i) => `must be a string, got ${showValue(i.input)}` }), {
  error: (i) => `must be a map of strings, got ${showValue(i.input)}`,
});

const whatIfSchema = z.strictObject(
  {
    namespace: z
      .strictObject(
        {
          name: z.string({ error: (i) => `must be a string, got ${showValue(i.input)}` }).optional(),
          labels: stringMap.nullish(),
          annotations: stringMap.nullish(),
        },
        { error: (i) => `must be an object {name?, labels?, annotations?}, got ${showValue(i.input)}` },
      )
      .optional(),
    object: z.unknown().optional(),
  },
  { error: (i) => `must be an object, got ${showValue(i.input)}` },
);

/** A body without `kind`/`apiVersion` but with `object` or `namespace` is the wrapper. */
export function isWhatIf(body: unknown): boolean {
  return (
    isJsonObject(body) && !('kind' in body) && !('apiVersion' in body) && ('object' in body || 'namespace' in body)
  );
}

/** Splits a body into the object and the optional namespace override. */
export function unwrapWhatIf(body: unknown): Parsed<{ object: unknown; whatIf?: WhatIf | undefined }> {
  if (!isWhatIf(body)) return { ok: true, value: { object: body } };
  const parsed = whatIfSchema.safeParse(body);
  if (!parsed.success) {
    const issue = describeIssues(parsed.error, { root: '(body)', first: true });
    return fail(new DnsTunerError('DNS_TUNER_BAD_WHAT_IF', issue));
  }
  if (parsed.data.object === undefined) {
    return fail(new DnsTunerError('DNS_TUNER_BAD_WHAT_IF', 'object: is required (the Pod, workload or review)'));
  }
  const ns = parsed.data.namespace;
  const whatIf: WhatIf | undefined = ns
    ? { name: ns.name, labels: ns.labels ?? {}, annotations: ns.annotations ?? {} }
    : undefined;
  return { ok: true, value: { object: parsed.data.object, whatIf } };
}

/** The namespace as the "what if" describes it (only `dns-tuner.io/*` keys count, as with the real sources). */
export function whatIfNamespace(namespace: string, whatIf: WhatIf): NamespaceInfo {
  return toNamespaceInfo({ name: namespace, labels: whatIf.labels, annotations: whatIf.annotations });
}

// ---------------------------------------------------------------------------------------------------------------
// Object → AdmissionRequest

const DRY_RUN_UID = '00000000-0000-0000-0000-000000000000';

/**
 * Turns one object into the review /mutate would get. `namespace` is `?namespace=` (or `-n`); it must agree with the
 * object's own namespace when both are given, as kubectl insists.
 */
export function toTarget(object: unknown, namespace?: string | undefined): Parsed<DryRunTarget> {
  if (object === undefined || object === null) {
    return fail(new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', 'the body is empty'));
  }
  if (!isJsonObject(object)) {
    const what = Array.isArray(object) ? 'a list' : showValue(object);
    return fail(new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', `expected a YAML/JSON object with a kind, got ${what}`));
  }
  const kind = object.kind;
  if (typeof kind !== 'string' || kind === '') {
    const found = kind === undefined ? 'it has no kind' : `its kind is ${showValue(kind)}`;
    return fail(new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', `${found} (expected e.g. kind: Deployment)`));
  }
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : undefined;
  if (kind === 'AdmissionReview') return fromReview(object, namespace);
  if (isListKind(kind)) {
    const items = Array.isArray(object.items) ? object.items.length : 0;
    const message = `kind ${kind} (${items} item${items === 1 ? '' : 's'}): send the items one per request (dns-tuner explain -f takes Lists)`;
    return fail(new DnsTunerError('DNS_TUNER_UNSUPPORTED_KIND', JSON.stringify(kind), `${WORKLOAD_KINDS}; ${message}`));
  }
  const path = POD_TEMPLATE_PATHS[kind];
  if (kind !== 'Pod' && path === undefined) {
    return fail(new DnsTunerError('DNS_TUNER_UNSUPPORTED_KIND', JSON.stringify(kind), WORKLOAD_KINDS));
  }
  const metadata = isJsonObject(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : undefined;
  const ownNamespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : '';
  const ns = pickNamespace(ownNamespace, namespace);
  if (!ns.ok) return ns;

  const defaulted: string[] = [];
  let pod: Json;
  let form: InputForm;
  if (path === undefined) {
    form = 'pod';
    // Only metadata.namespace and spec.dnsPolicy are set below: copy those levels, share the rest (the engine copies on
    // write too). A deep copy of a 3 MB pod cost 200 ms of the event loop /mutate shares.
    pod = { ...object, metadata: { ...metadata }, ...(isJsonObject(object.spec) ? { spec: { ...object.spec } } : {}) };
  } else {
    form = 'workload';
    const made = podFromTemplate(object, kind, name, path, ns.value);
    if (!made.ok) return made;
    pod = made.value;
  }
  // The apiserver sets both before admission: the request's namespace, and the dnsPolicy default
  // (pkg/apis/core/v1/defaults.go SetDefaults_PodSpec), so /mutate sees them.
  const podMetadata = child(pod, 'metadata');
  if (podMetadata.namespace !== ns.value) podMetadata.namespace = ns.value;
  const spec = child(pod, 'spec');
  if (spec.dnsPolicy === undefined || spec.dnsPolicy === '') {
    spec.dnsPolicy = 'ClusterFirst';
    defaulted.push('spec.dnsPolicy=ClusterFirst');
  }
  const view = parsePodView(pod);
  if (!view.ok) return fail(new DnsTunerError('DNS_TUNER_BAD_POD', prefixed(view.error, form, kind)));
  return {
    ok: true,
    value: {
      form,
      kind,
      apiVersion,
      name,
      namespace: ns.value,
      defaulted,
      request: {
        uid: DRY_RUN_UID,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        namespace: ns.value,
        object: pod,
      },
    },
  };
}

/** The review as /mutate would take it; only its namespace may be filled in from `?namespace=`. */
function fromReview(object: Json, namespace: string | undefined): Parsed<DryRunTarget> {
  const parsed = parseAdmissionReview(object);
  if (!parsed.ok) return fail(new DnsTunerError('DNS_TUNER_BAD_REVIEW', parsed.error));
  const request = parsed.request;
  const podNamespace = request.object?.metadata;
  const objectNamespace =
    isJsonObject(podNamespace) && typeof podNamespace.namespace === 'string' ? podNamespace.namespace : '';
  const ns = pickNamespace(request.namespace || objectNamespace, namespace);
  if (!ns.ok) return ns;
  const isPod = request.kind.group === '' && request.kind.kind === 'Pod';
  if (isPod && request.object !== undefined) {
    const view = parsePodView(request.object);
    if (!view.ok) return fail(new DnsTunerError('DNS_TUNER_BAD_POD', `request.object: ${view.error}`));
  }
  const metadata = request.object?.metadata;
  const name = isJsonObject(metadata)
    ? [metadata.name, metadata.generateName].find((n): n is string => typeof n === 'string' && n !== '')
    : undefined;
  return {
    ok: true,
    value: {
      form: 'admission-review',
      kind: 'AdmissionReview',
      apiVersion: typeof object.apiVersion === 'string' ? object.apiVersion : undefined,
      name: name ?? request.name,
      namespace: ns.value,
      defaulted: [],
      request: { ...request, namespace: ns.value },
    },
  };
}

function pickNamespace(own: string, given: string | undefined): Parsed<string> {
  if (given !== undefined && given !== '' && own !== '' && given !== own) {
    return fail(new DnsTunerError('DNS_TUNER_NAMESPACE_MISMATCH', JSON.stringify(given), JSON.stringify(own)));
  }
  const ns = own || given || '';
  if (ns === '') return fail(new DnsTunerError('DNS_TUNER_NO_NAMESPACE'));
  // No namespace can have another name, and the cluster source would ask the apiserver about it.
  if (!isNamespaceName(ns)) return fail(new DnsTunerError('DNS_TUNER_BAD_NAMESPACE', showValue(ns)));
  return { ok: true, value: ns };
}

/** ValidateNamespaceName: an RFC 1123 label. */
export const isNamespaceName = isDnsLabel;

/** The pod a controller creates from `template`: its labels, annotations, finalizers and spec; `<owner>-` name. */
function podFromTemplate(
  workload: Json,
  kind: string,
  name: string | undefined,
  path: readonly string[],
  namespace: string,
): Parsed<Json> {
  const who = `${kind} ${name === undefined ? '(unnamed)' : JSON.stringify(name)}`;
  let template: unknown = workload;
  for (const key of path) template = isJsonObject(template) ? template[key] : undefined;
  const where = path.join('.');
  if (!isJsonObject(template)) {
    const found = template === undefined || template === null ? 'is missing' : `is ${showValue(template)}`;
    return fail(new DnsTunerError('DNS_TUNER_NO_POD_TEMPLATE', who, `${where} ${found}`));
  }
  if (!isJsonObject(template.spec)) {
    const found = template.spec === undefined ? 'is missing' : `is ${showValue(template.spec)}`;
    return fail(new DnsTunerError('DNS_TUNER_NO_POD_TEMPLATE', who, `${where}.spec ${found}`));
  }
  const tm = isJsonObject(template.metadata) ? template.metadata : {};
  const metadata: Json = { generateName: `${name ?? kind.toLowerCase()}-`, namespace };
  for (const key of ['labels', 'annotations', 'finalizers'] as const) {
    if (tm[key] !== undefined && tm[key] !== null) metadata[key] = shallow(tm[key]);
  }
  // Shallow: only spec.dnsPolicy is set on the pod (the engine copies on write), and deep copies of a large template
  // cost the event loop /mutate shares.
  return { ok: true, value: { apiVersion: 'v1', kind: 'Pod', metadata, spec: shallow(template.spec) } };
}

function shallow(value: unknown): unknown {
  if (Array.isArray(value)) return [...value];
  return isJsonObject(value) ? { ...value } : value;
}

/** The template's fields are where the author wrote them: point there, not at the synthetic pod. */
function prefixed(error: string, form: InputForm, kind: string): string {
  if (form !== 'workload') return error;
  const path = POD_TEMPLATE_PATHS[kind]!.join('.');
  return error.replace(/^pod /, `${kind} ${path}.`);
}

function child(parent: Json, key: string): Json {
  const value = parent[key];
  if (isJsonObject(value)) return value;
  const created: Json = {};
  parent[key] = created;
  return created;
}

// ---------------------------------------------------------------------------------------------------------------
// ?names=

/** Bound on extra names per request: each one is a few lookups of the model, and rows in the report. */
export const MAX_EXTRA_NAMES = 32;
const NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_]([A-Za-z0-9_-]*))*\.?$/;

/** `?names=a,b` / `--names a,b` (repeatable): trimmed, de-duplicated, each a DNS name of at most 253 characters. */
export function parseNames(values: ReadonlyArray<string> | string | undefined, flag = 'names'): Parsed<string[]> {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  const names: string[] = [];
  for (const entry of list) {
    for (const raw of entry.split(',')) {
      const name = raw.trim();
      if (name === '') continue;
      if (name.length > 254 || !NAME.test(name) || name.split('.').some((l) => l.length > 63)) {
        return fail(new DnsTunerError('DNS_TUNER_BAD_QUERY', flag, `${showValue(name)} is not a DNS name`));
      }
      if (!names.includes(name)) names.push(name);
    }
  }
  if (names.length > MAX_EXTRA_NAMES) {
    const message = `${names.length} names; at most ${MAX_EXTRA_NAMES}`;
    return fail(new DnsTunerError('DNS_TUNER_BAD_QUERY', flag, message));
  }
  return { ok: true, value: names };
}
