/**
 * A fake Kubernetes API server that speaks the real wire protocol over node:http for the kinds in `RESOURCES`
 * (namespaces, services, configmaps, pods, daemonsets, replicasets, deployments, statefulsets, jobs, cronjobs,
 * networkpolicies), with controls to inject the failures a watch cache or a pager must survive. What it reproduces of
 * the apiserver:
 *
 * - Paths: `/api/v1/{plural}` and `/apis/{group}/{version}/{plural}` (cluster-scoped kinds, or every namespace of a
 *   namespaced kind), `…/namespaces/{ns}/{plural}` (one namespace), `…/{plural}/{name}` and
 *   `…/namespaces/{ns}/{plural}/{name}` (one object). Anything else: 404 Status.
 * - LIST → `{Kind}List` with `metadata.resourceVersion`; `limit`/`continue` chunking from a snapshot, 410 Expired for
 *   a continue token older than a compaction; `labelSelector` (equality and set-based) and `fieldSelector`
 *   (`metadata.name`, `metadata.namespace`; pods also `spec.nodeName`, `status.phase`), 400 for what it cannot parse.
 * - WATCH (`?watch=1&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=T`) → chunked stream of
 *   newline-delimited `{"type":…,"object":…}` events after N (N unset or "0": synthetic ADDED for everything first),
 *   filtered by namespace and selectors the way the watch cache filters them (an object that stops matching arrives
 *   as DELETED, one that starts matching as ADDED:
 *   https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go);
 *   BOOKMARKs only when allowed; the server ends the stream after `timeoutSeconds`; N older than the last compaction →
 *   410 Gone, as an HTTP status (`expiredAs: 'status'`) or as an ERROR event (`expiredAs: 'event'`, what the watch
 *   cache does: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go).
 * - GET one object, or a 404 Status.
 * - `Accept: …;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1` → metadata-only objects, as the apiserver does.
 * - Bearer-token authentication (401 Status otherwise), from the kubeconfig it writes; RBAC-style denials (403
 *   Status) injected per resource, namespace and verb: a denial in one namespace also denies the cluster-wide
 *   request, as no ClusterRole can grant that without granting the namespace; a Namespace object is in itself.
 * - One resourceVersion sequence for every kind, as etcd's revision is shared; deleting a namespace deletes what is
 *   in it first.
 *
 * Everything is plain data; nothing here knows about the code under test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ResourceType {
  kind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
}

/** The kinds the fake serves, by plural (the path segment). */
export const RESOURCES = {
  namespaces: { kind: 'Namespace', group: '', version: 'v1', namespaced: false },
  services: { kind: 'Service', group: '', version: 'v1', namespaced: true },
  configmaps: { kind: 'ConfigMap', group: '', version: 'v1', namespaced: true },
  pods: { kind: 'Pod', group: '', version: 'v1', namespaced: true },
  daemonsets: { kind: 'DaemonSet', group: 'apps', version: 'v1', namespaced: true },
  replicasets: { kind: 'ReplicaSet', group: 'apps', version: 'v1', namespaced: true },
  deployments: { kind: 'Deployment', group: 'apps', version: 'v1', namespaced: true },
  statefulsets: { kind: 'StatefulSet', group: 'apps', version: 'v1', namespaced: true },
  jobs: { kind: 'Job', group: 'batch', version: 'v1', namespaced: true },
  cronjobs: { kind: 'CronJob', group: 'batch', version: 'v1', namespaced: true },
  networkpolicies: { kind: 'NetworkPolicy', group: 'networking.k8s.io', version: 'v1', namespaced: true },
} as const satisfies Record<string, ResourceType>;

export type Resource = keyof typeof RESOURCES;

/** The collection path of `resource`, in `namespace` or across all of them. */
export function collectionPath(resource: Resource, namespace?: string): string {
  const type: ResourceType = RESOURCES[resource];
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  return namespace === undefined ? `${base}/${resource}` : `${base}/namespaces/${namespace}/${resource}`;
}

export interface NamespaceInput {
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

/** An object to create or update: what a client would send (kind, apiVersion, uid… are the server's). */
export interface ObjectInput {
  metadata: {
    name: string;
    namespace?: string | undefined;
    labels?: Record<string, string> | undefined;
    annotations?: Record<string, string> | undefined;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** How a kind of request misbehaves: answer 500, reset the connection, never answer, or answer late. */
export type Fault = 'none' | 'error' | 'reset' | 'hang' | { delayMs: number };
export type RequestKind = 'list' | 'watch' | 'get';

export interface RecordedRequest {
  kind: RequestKind | 'other';
  path: string;
  query: Record<string, string>;
  accept: string;
  /** The plural, for a path the fake serves. */
  resource?: string | undefined;
  namespace?: string | undefined;
}

/** An RBAC denial: every field left out matches everything. */
export interface Denial {
  resource?: Resource | undefined;
  namespace?: string | undefined;
  verb?: RequestKind | undefined;
}

export interface FakeKubeApi {
  readonly url: string;
  /** A kubeconfig (JSON, which is YAML) pointing at this server with its token. */
  readonly kubeconfigPath: string;
  /** A second kubeconfig with a wrong token. */
  readonly badTokenKubeconfigPath: string;
  /** The current (global) resourceVersion. */
  readonly resourceVersion: number;
  /** Requests served, by kind (any resource); refused ones by why. */
  readonly counts: Readonly<Record<RequestKind | 'unauthorized' | 'forbidden' | 'expired', number>>;
  readonly openWatches: number;
  /** The most watch streams ever open at the same time. */
  readonly maxConcurrentWatches: number;
  /** Open TCP connections (any kind). */
  readonly openConnections: number;
  readonly requests: readonly RecordedRequest[];
  /** How a watch from a compacted resourceVersion is refused. Default 'status'. */
  expiredAs: 'status' | 'event';

  // Namespaces.
  names(): string[];
  create(name: string, input?: NamespaceInput): void;
  /** Replaces labels and/or annotations (MODIFIED). `undefined` leaves that map unchanged. */
  update(name: string, input: NamespaceInput): void;
  setLabel(name: string, key: string, value: string | undefined): void;
  /** Deletes the namespace, and first everything in it. */
  delete(name: string): void;

  // Any kind.
  /** Creates an object (ADDED); a namespaced one needs `metadata.namespace`, an existing namespace. */
  createObject(resource: Resource, object: ObjectInput): void;
  /** Fields `object` sets replace the stored ones, at the top level and in metadata; the rest stays (MODIFIED). */
  updateObject(resource: Resource, object: ObjectInput): void;
  deleteObject(resource: Resource, name: string, namespace?: string): void;
  /** The object as a GET would return it (a copy), or undefined. */
  getObject(resource: Resource, name: string, namespace?: string): Record<string, unknown> | undefined;
  /** Keys (`namespace/name`, or `name`) of the objects of `resource`, sorted; only `namespace`'s when given. */
  objectKeys(resource: Resource, namespace?: string): string[];

  /** Bumps the resourceVersion without an event (writes to resources the fake does not serve). */
  advance(by?: number): void;
  /** Sends a BOOKMARK at the current resourceVersion to every open watch (of `resource`) that asked for bookmarks. */
  bookmark(resource?: Resource): void;
  /** Forgets the event history: a watch from any resourceVersion before now gets 410 Gone. */
  compact(): void;
  /** Sends an ERROR 410 event to every open watch (of `resource`) and ends them, like a watch cache out of window. */
  expireWatches(resource?: Resource): void;
  /** Destroys the sockets of every open watch (of `resource`). */
  dropWatches(resource?: Resource): void;
  /** While on, watches (open or new) get no more data: a half-open connection as seen from the client. */
  hangWatches(on: boolean): void;
  /** Makes one kind of request misbehave, for every resource or (overriding that) for one. */
  setFault(kind: RequestKind, fault: Fault, resource?: Resource): void;
  /** Answers 403 Forbidden to what `denial` matches, until `allowAll()`. */
  deny(denial: Denial): void;
  allowAll(): void;
  close(): Promise<void>;
}

interface Stored {
  resource: Resource;
  namespace: string | undefined;
  name: string;
  resourceVersion: number;
  /** The full object, metadata included, without kind/apiVersion. */
  object: Record<string, unknown> & { metadata: Record<string, unknown> };
}

interface HistoryEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  stored: Stored;
  /** The object before a MODIFIED, to tell watchers whose selector it entered or left. */
  previous?: Stored | undefined;
}

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' }
  | { key: string; op: '=' | '!='; values: [string] };

/** What a list or watch asks for: which resource, where, which objects. */
interface Scope {
  resource: Resource;
  namespace: string | undefined;
  labels: Requirement[];
  fields: Array<{ field: string; op: '=' | '!='; value: string }>;
}

interface Watcher {
  scope: Scope;
  res: http.ServerResponse;
  socket: Socket;
  bookmarks: boolean;
  metadataOnly: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface FakeKubeApiOptions {
  /** Namespaces present at startup. Default: the four a fresh cluster has. */
  initial?: string[];
}

const TOKEN = 'fake-token-for-tests';
const USER = 'system:serviceaccount:dns-tuner:dns-tuner';

function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

class BadRequest extends Error {}

// https://github.com/kubernetes/apimachinery/blob/master/pkg/labels/selector.go (Parse), the common forms.
const KEY = '[A-Za-z0-9][-A-Za-z0-9_./]*';
const VALUE = '[-A-Za-z0-9_.]*';
const SET_RE = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const EQUALITY_RE = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(`^(!?)\\s*(${KEY})$`);

function parseLabelSelector(selector: string): Requirement[] {
  const requirements: Requirement[] = [];
  // Commas separate requirements, except inside the parentheses of a set.
  for (const part of selector.split(/,(?![^(]*\))/)) {
    const text = part.trim();
    if (!text) continue;
    const set = SET_RE.exec(text);
    const equality = EQUALITY_RE.exec(text);
    const exists = EXISTS_RE.exec(text);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      requirements.push({ key: set[1]!, op: set[2] as 'in' | 'notin', values });
    } else if (equality) {
      requirements.push({ key: equality[1]!, op: equality[2] === '!=' ? '!=' : '=', values: [equality[3]!] });
    } else if (exists) {
      requirements.push({ key: exists[2]!, op: exists[1] ? '!exists' : 'exists' });
    } else {
      throw new BadRequest(`unable to parse requirement: ${JSON.stringify(text)}`);
    }
  }
  return requirements;
}

function matches(labels: Record<string, string>, r: Requirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case 'exists':
      return has;
    case '!exists':
      return !has;
    case '=':
      return has && value === r.values[0];
    case '!=':
      return !has || value !== r.values[0];
    case 'in':
      return has && r.values.includes(value!);
    case 'notin':
      return !has || !r.values.includes(value!);
  }
}

function matchesLabels(labels: Record<string, string>, requirements: Requirement[]): boolean {
  return requirements.every((r) => matches(labels, r));
}

/** Field selectors the apiserver supports for every kind, and the pod fields it adds (pkg/registry/core/pod). */
const FIELDS: Record<string, (o: Stored['object']) => unknown> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
};
const POD_FIELDS: Record<string, (o: Stored['object']) => unknown> = {
  'spec.nodeName': (o) => (o.spec as { nodeName?: unknown } | undefined)?.nodeName ?? '',
  'status.phase': (o) => (o.status as { phase?: unknown } | undefined)?.phase ?? '',
};

function parseFieldSelector(resource: Resource, selector: string): Scope['fields'] {
  const fields: Scope['fields'] = [];
  for (const part of selector.split(',')) {
    const text = part.trim();
    if (!text) continue;
    const match = /^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/.exec(text);
    if (!match) throw new BadRequest(`invalid field selector: ${JSON.stringify(text)}`);
    const field = match[1]!;
    if (!FIELDS[field] && !(resource === 'pods' && POD_FIELDS[field])) {
      throw new BadRequest(`field label not supported: ${field}`);
    }
    fields.push({ field, op: match[2] === '!=' ? '!=' : '=', value: match[3]!.trim() });
  }
  return fields;
}

function inScope(stored: Stored, scope: Scope): boolean {
  if (stored.resource !== scope.resource) return false;
  if (scope.namespace !== undefined && stored.namespace !== scope.namespace) return false;
  const labels = (stored.object.metadata.labels ?? {}) as Record<string, string>;
  if (!matchesLabels(labels, scope.labels)) return false;
  return scope.fields.every(({ field, op, value }) => {
    const actual = String((FIELDS[field] ?? POD_FIELDS[field])!(stored.object) ?? '');
    return op === '=' ? actual === value : actual !== value;
  });
}

/** What a path names: a collection (no `name`) or one object. */
interface Route {
  resource: Resource;
  namespace: string | undefined;
  name: string | undefined;
}

function route(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined; // a malformed %-escape
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    [group, version, rest] = ['', segments[1]!, segments.slice(2)];
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    [group, version, rest] = [segments[1]!, segments[2]!, segments.slice(3)];
  } else {
    return undefined;
  }
  const known = (plural: string | undefined): Resource | undefined => {
    if (!plural || !Object.hasOwn(RESOURCES, plural)) return undefined;
    const type: ResourceType = RESOURCES[plural as Resource];
    return type.group === group && type.version === version ? (plural as Resource) : undefined;
  };
  // …/namespaces/{ns}/{plural}[/{name}]
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest.length <= 4) {
    const resource = known(rest[2]);
    if (!resource || !RESOURCES[resource].namespaced) return undefined;
    return { resource, namespace: rest[1], name: rest[3] };
  }
  // …/{plural}[/{name}]: a named object only for cluster-scoped kinds.
  const resource = known(rest[0]);
  if (!resource || rest.length > 2 || (rest.length === 2 && RESOURCES[resource].namespaced)) return undefined;
  return { resource, namespace: undefined, name: rest[1] };
}

function keyOf(stored: { namespace: string | undefined; name: string }): string {
  return stored.namespace === undefined ? stored.name : `${stored.namespace}/${stored.name}`;
}

function byKey(a: Stored, b: Stored): number {
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  let rv = 0;
  let uid = 0;
  let compactedRv = 0;
  let hung = false;
  let maxConcurrentWatches = 0;
  /** Every object, by `resource|key`. */
  const objects = new Map<string, Stored>();
  let history: HistoryEvent[] = [];
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  const hangingResponses = new Set<http.ServerResponse>();
  const counts: Record<RequestKind | 'unauthorized' | 'forbidden' | 'expired', number> = {
    list: 0,
    watch: 0,
    get: 0,
    unauthorized: 0,
    forbidden: 0,
    expired: 0,
  };
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, Fault>();
  const denials: Denial[] = [];
  // Continue tokens → the snapshot (objects at a resourceVersion) they page through.
  const snapshots = new Map<string, { rv: number; items: Stored[] }>();

  const storeKey = (resource: Resource, name: string, namespace: string | undefined) =>
    `${resource}|${namespace === undefined ? name : `${namespace}/${name}`}`;

  function typeMeta(resource: Resource): { kind: string; apiVersion: string } {
    const type: ResourceType = RESOURCES[resource];
    return { kind: type.kind, apiVersion: type.group ? `${type.group}/${type.version}` : type.version };
  }

  function toObject(stored: Stored, metadataOnly: boolean, withKind: boolean): Record<string, unknown> {
    const object = structuredClone(stored.object);
    const body = metadataOnly ? { metadata: object.metadata } : object;
    const kind = metadataOnly
      ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' }
      : typeMeta(stored.resource);
    // Items of a typed list carry no kind/apiVersion; a watch event's object and a GET's body do.
    return withKind ? { ...kind, ...body } : body;
  }

  function write(w: Watcher, type: HistoryEvent['type'], stored: Stored): void {
    w.res.write(`${JSON.stringify({ type, object: toObject(stored, w.metadataOnly, true) })}\n`);
  }

  /** Sends `event` to `w` as the watch cache would: filtered, and turned into ADDED/DELETED at the selector's edge. */
  function send(w: Watcher, event: HistoryEvent): void {
    if (hung) return;
    const now = inScope(event.stored, w.scope);
    const before = event.previous !== undefined && inScope(event.previous, w.scope);
    if (event.type !== 'MODIFIED') {
      if (now) write(w, event.type, event.stored);
    } else if (now) {
      write(w, before ? 'MODIFIED' : 'ADDED', event.stored);
    } else if (before) {
      // The old content at the new resourceVersion, as cache_watcher.go's convertToWatchEvent sends it.
      const gone = structuredClone(event.previous!);
      gone.object.metadata.resourceVersion = String(event.rv);
      write(w, 'DELETED', gone);
    }
  }

  function record(type: HistoryEvent['type'], stored: Stored, previous?: Stored): void {
    const event: HistoryEvent = { type, rv: stored.resourceVersion, stored: structuredClone(stored), previous };
    history.push(event);
    for (const w of watchers) send(w, event);
  }

  function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function endWatch(w: Watcher): void {
    clearTimeout(w.timer);
    watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  function faultFor(kind: RequestKind, resource: Resource): Fault {
    return faults.get(`${kind}|${resource}`) ?? faults.get(kind) ?? 'none';
  }

  /** Applies a fault; returns true when the request has been dealt with. */
  function applyFault(fault: Fault, req: http.IncomingMessage, res: http.ServerResponse, go: () => void): boolean {
    if (fault === 'none') return false;
    if (fault === 'error') {
      sendJson(res, 500, statusObject(500, 'InternalError', 'Internal error occurred: injected fault'));
    } else if (fault === 'reset') {
      req.socket.destroy();
    } else if (fault === 'hang') {
      hangingResponses.add(res);
      res.on('close', () => hangingResponses.delete(res));
    } else {
      const timer = setTimeout(go, fault.delayMs);
      res.on('close', () => clearTimeout(timer));
    }
    return true;
  }

  function denied(kind: RequestKind, at: Route): boolean {
    const namespace = namespaceOf(at);
    return denials.some(
      (d) =>
        (d.resource === undefined || d.resource === at.resource) &&
        (d.verb === undefined || d.verb === kind) &&
        // A cluster-wide request needs the permission in every namespace.
        (d.namespace === undefined || namespace === undefined || d.namespace === namespace),
    );
  }

  /**
   * The namespace RBAC checks a request in: a Namespace object is checked inside itself, so a RoleBinding there can
   * grant `get` on it (https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).
   */
  function namespaceOf(at: Route): string | undefined {
    return at.resource === 'namespaces' && at.name !== undefined ? at.name : at.namespace;
  }

  function forbidden(kind: RequestKind, at: Route): Record<string, unknown> {
    const { group } = RESOURCES[at.resource];
    const namespace = namespaceOf(at);
    const where = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
    const message =
      `${at.resource}${at.name ? ` "${at.name}"` : ''} is forbidden: User "${USER}" cannot ${kind} ` +
      `resource "${at.resource}" in API group "${group}" ${where}`;
    return statusObject(403, 'Forbidden', message, { name: at.name, group, kind: at.resource });
  }

  function scopeOf(at: Route, query: URLSearchParams): Scope {
    return {
      resource: at.resource,
      namespace: at.namespace,
      labels: parseLabelSelector(query.get('labelSelector') ?? ''),
      fields: parseFieldSelector(at.resource, query.get('fieldSelector') ?? ''),
    };
  }

  function current(scope: Scope): Stored[] {
    const found: Stored[] = [];
    for (const stored of objects.values()) if (inScope(stored, scope)) found.push(stored);
    return found.sort(byKey);
  }

  function handleList(scope: Scope, query: URLSearchParams, res: http.ServerResponse, metadataOnly: boolean): void {
    const limit = Number(query.get('limit') ?? '0');
    const token = query.get('continue');
    let snapshot: { rv: number; items: Stored[] };
    let offset = 0;
    if (token) {
      const [id, at] = token.split(':');
      const found = snapshots.get(id ?? '');
      if (!found || found.rv < compactedRv) {
        counts.expired++;
        sendJson(
          res,
          410,
          statusObject(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          ),
        );
        return;
      }
      snapshot = found;
      offset = Number(at);
    } else {
      snapshot = { rv, items: current(scope).map((s) => structuredClone(s)) };
    }
    const end = limit > 0 ? Math.min(offset + limit, snapshot.items.length) : snapshot.items.length;
    const page = snapshot.items.slice(offset, end);
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      const id = token?.split(':')[0] ?? String(snapshots.size + 1);
      snapshots.set(id, snapshot);
      metadata.continue = `${id}:${end}`;
      metadata.remainingItemCount = snapshot.items.length - end;
    }
    const listKind = metadataOnly
      ? { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1' }
      : { ...typeMeta(scope.resource), kind: `${RESOURCES[scope.resource].kind}List` };
    sendJson(res, 200, { ...listKind, metadata, items: page.map((s) => toObject(s, metadataOnly, false)) });
  }

  function handleWatch(
    scope: Scope,
    query: URLSearchParams,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    metadataOnly: boolean,
  ): void {
    const from = query.get('resourceVersion') ?? '';
    const fromRv = from === '' || from === '0' ? undefined : Number(from);
    if (fromRv !== undefined && (!Number.isInteger(fromRv) || fromRv < 0)) {
      sendJson(res, 400, statusObject(400, 'BadRequest', `invalid resource version "${from}"`));
      return;
    }
    const expired = fromRv !== undefined && fromRv < compactedRv;
    const gone = statusObject(410, 'Expired', `too old resource version: ${fromRv} (${compactedRv})`);
    if (expired && fakeApi.expiredAs === 'status') {
      counts.expired++;
      sendJson(res, 410, gone);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    if (expired) {
      counts.expired++;
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    const w: Watcher = {
      scope,
      res,
      socket: req.socket,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      metadataOnly,
      timer: undefined,
    };
    watchers.add(w);
    maxConcurrentWatches = Math.max(maxConcurrentWatches, watchers.size);
    res.on('close', () => {
      clearTimeout(w.timer);
      watchers.delete(w);
    });
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) w.timer = setTimeout(() => endWatch(w), timeoutSeconds * 1000);
    if (fromRv === undefined) {
      // "Get state and start at most recent": synthetic ADDED events for what exists now.
      for (const stored of current(scope)) send(w, { type: 'ADDED', rv: stored.resourceVersion, stored });
    } else {
      for (const event of history) if (event.rv > fromRv) send(w, event);
    }
  }

  function handleGet(at: Route & { name: string }, res: http.ServerResponse, metadataOnly: boolean): void {
    const stored = objects.get(storeKey(at.resource, at.name, at.namespace));
    if (!stored) {
      sendJson(
        res,
        404,
        statusObject(404, 'NotFound', `${at.resource} "${at.name}" not found`, { name: at.name, kind: at.resource }),
      );
      return;
    }
    sendJson(res, 200, toObject(stored, metadataOnly, true));
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const accept = req.headers.accept ?? '';
    const metadataOnly = /;as=PartialObjectMetadata(List)?;g=meta\.k8s\.io;v=v1/.test(accept.split(',')[0] ?? '');
    const isWatch = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    const at = req.method === 'GET' ? route(url.pathname) : undefined;
    const kind: RecordedRequest['kind'] = !at ? 'other' : at.name !== undefined ? 'get' : isWatch ? 'watch' : 'list';
    requests.push({
      kind,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      accept,
      resource: at?.resource,
      namespace: at?.namespace,
    });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      counts.unauthorized++;
      sendJson(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (kind === 'other' || !at) {
      sendJson(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (denied(kind, at)) {
      counts.forbidden++;
      sendJson(res, 403, forbidden(kind, at));
      return;
    }
    counts[kind]++;
    const go = () => {
      try {
        if (kind === 'get') handleGet({ ...at, name: at.name! }, res, metadataOnly);
        else if (kind === 'list') handleList(scopeOf(at, url.searchParams), url.searchParams, res, metadataOnly);
        else handleWatch(scopeOf(at, url.searchParams), url.searchParams, req, res, metadataOnly);
      } catch (error) {
        if (!(error instanceof BadRequest)) throw error;
        sendJson(res, 400, statusObject(400, 'BadRequest', error.message));
      }
    };
    if (!applyFault(faultFor(kind, at.resource), req, res, go)) go();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fake apiserver: no port');
  const url = `http://127.0.0.1:${address.port}`;

  const dir = await mkdtemp(join(tmpdir(), 'fake-kube-api-'));
  const kubeconfig = (token: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses http:// unless TLS verification is explicitly off.
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    });
  const kubeconfigPath = join(dir, 'kubeconfig');
  const badTokenKubeconfigPath = join(dir, 'kubeconfig-bad-token');
  await writeFile(kubeconfigPath, kubeconfig(TOKEN));
  await writeFile(badTokenKubeconfigPath, kubeconfig('wrong-token'));

  function identify(resource: Resource, name: string, namespace: string | undefined): string {
    if (!Object.hasOwn(RESOURCES, resource)) throw new Error(`fake apiserver: unknown resource "${resource}"`);
    const namespaced = RESOURCES[resource].namespaced;
    if (namespaced && !namespace) throw new Error(`fake apiserver: ${resource} "${name}" needs a namespace`);
    if (!namespaced && namespace) throw new Error(`fake apiserver: ${resource} are not namespaced`);
    return storeKey(resource, name, namespace);
  }

  function mustGet(resource: Resource, name: string, namespace: string | undefined): Stored {
    const stored = objects.get(identify(resource, name, namespace));
    const where = namespace ? ` in namespace "${namespace}"` : '';
    if (!stored) throw new Error(`fake apiserver: ${resource} "${name}"${where} does not exist`);
    return stored;
  }

  /**
   * Metadata in the apiserver's order, empty maps left out: identity and bookkeeping from `stored` and `base` (the
   * stored metadata, or the new uid and timestamp), labels and annotations from `input` when it sets them, other
   * fields (ownerReferences, generateName…) from `input` over `base`.
   */
  function metadataOf(
    stored: Omit<Stored, 'object'>,
    input: ObjectInput['metadata'],
    base: Record<string, unknown>,
  ): Record<string, unknown> {
    const managed = ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'labels', 'annotations'];
    const extra: Record<string, unknown> = {};
    for (const [field, value] of [...Object.entries(base), ...Object.entries(input)]) {
      if (!managed.includes(field)) extra[field] = value;
    }
    const labels = input.labels ?? (base.labels as Record<string, string> | undefined) ?? {};
    const annotations = input.annotations ?? (base.annotations as Record<string, string> | undefined) ?? {};
    return {
      name: stored.name,
      ...(stored.namespace === undefined ? {} : { namespace: stored.namespace }),
      uid: base.uid,
      resourceVersion: String(stored.resourceVersion),
      creationTimestamp: base.creationTimestamp,
      ...(Object.keys(labels).length > 0 ? { labels: { ...labels } } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
      ...extra,
    };
  }

  const fakeApi: FakeKubeApi = {
    url,
    kubeconfigPath,
    badTokenKubeconfigPath,
    get resourceVersion() {
      return rv;
    },
    counts,
    get openWatches() {
      return watchers.size;
    },
    get maxConcurrentWatches() {
      return maxConcurrentWatches;
    },
    get openConnections() {
      return sockets.size;
    },
    requests,
    expiredAs: 'status',

    names: () => fakeApi.objectKeys('namespaces'),
    create(name, input = {}) {
      fakeApi.createObject('namespaces', {
        // The apiserver sets this label on every namespace (since 1.21).
        metadata: {
          name,
          labels: { ...input.labels, 'kubernetes.io/metadata.name': name },
          annotations: { ...input.annotations },
        },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      });
    },
    update(name, input) {
      fakeApi.updateObject('namespaces', {
        metadata: {
          name,
          labels: input.labels && { ...input.labels, 'kubernetes.io/metadata.name': name },
          annotations: input.annotations && { ...input.annotations },
        },
      });
    },
    setLabel(name, key, value) {
      const labels = { ...(mustGet('namespaces', name, undefined).object.metadata.labels as Record<string, string>) };
      if (value === undefined) delete labels[key];
      else labels[key] = value;
      fakeApi.update(name, { labels });
    },
    delete(name) {
      mustGet('namespaces', name, undefined);
      for (const stored of [...objects.values()]) {
        if (stored.namespace === name) fakeApi.deleteObject(stored.resource, stored.name, name);
      }
      fakeApi.deleteObject('namespaces', name);
    },

    createObject(resource, input) {
      const { name, namespace } = input.metadata;
      const key = identify(resource, name, namespace);
      if (objects.has(key)) throw new Error(`fake apiserver: ${resource} "${name}" already exists`);
      if (namespace !== undefined && !objects.has(storeKey('namespaces', namespace, undefined))) {
        throw new Error(`fake apiserver: namespaces "${namespace}" not found`);
      }
      const { metadata, ...body } = structuredClone(input);
      const stored: Stored = { resource, namespace, name, resourceVersion: ++rv, object: { metadata: {} } };
      const base = {
        uid: `00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
      stored.object = { metadata: metadataOf(stored, metadata, base), ...body };
      objects.set(key, stored);
      record('ADDED', stored);
    },
    updateObject(resource, input) {
      const { name, namespace } = input.metadata;
      const stored = mustGet(resource, name, namespace);
      const previous = structuredClone(stored);
      const { metadata, ...body } = structuredClone(input);
      stored.resourceVersion = ++rv;
      stored.object = { ...stored.object, ...body, metadata: metadataOf(stored, metadata, stored.object.metadata) };
      record('MODIFIED', stored, previous);
    },
    deleteObject(resource, name, namespace) {
      const stored = mustGet(resource, name, namespace);
      objects.delete(identify(resource, name, namespace));
      stored.resourceVersion = ++rv;
      stored.object.metadata.resourceVersion = String(stored.resourceVersion);
      record('DELETED', stored);
    },
    getObject(resource, name, namespace) {
      const stored = objects.get(identify(resource, name, namespace));
      return stored && toObject(stored, false, true);
    },
    objectKeys(resource, namespace) {
      const keys: string[] = [];
      for (const stored of objects.values()) {
        if (stored.resource === resource && (namespace === undefined || stored.namespace === namespace)) {
          keys.push(keyOf(stored));
        }
      }
      return keys.sort();
    },

    advance(by = 1) {
      rv += by;
    },
    bookmark(resource) {
      if (hung) return;
      for (const w of watchers) {
        if (!w.bookmarks || (resource && w.scope.resource !== resource)) continue;
        const object = {
          ...(w.metadataOnly
            ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' }
            : typeMeta(w.scope.resource)),
          metadata: { resourceVersion: String(rv), creationTimestamp: null },
        };
        w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
      }
    },
    compact() {
      compactedRv = rv;
      history = [];
    },
    expireWatches(resource) {
      const gone = statusObject(410, 'Expired', 'too old resource version');
      for (const w of [...watchers]) {
        if (resource && w.scope.resource !== resource) continue;
        w.res.write(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
        endWatch(w);
      }
    },
    dropWatches(resource) {
      for (const w of [...watchers]) {
        if (resource && w.scope.resource !== resource) continue;
        watchers.delete(w);
        clearTimeout(w.timer);
        w.socket.destroy();
      }
    },
    hangWatches(on) {
      hung = on;
    },
    setFault(kind, fault, resource) {
      faults.set(resource ? `${kind}|${resource}` : kind, fault);
    },
    deny(denial) {
      denials.push({ ...denial });
    },
    allowAll() {
      denials.length = 0;
    },
    async close() {
      for (const w of [...watchers]) endWatch(w);
      for (const res of hangingResponses) res.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };

  for (const name of options.initial ?? ['default', 'kube-node-lease', 'kube-public', 'kube-system']) {
    fakeApi.create(name);
  }
  return fakeApi;
}
