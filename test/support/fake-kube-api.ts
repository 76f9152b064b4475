/**
 * A fake Kubernetes API server for Namespaces that speaks the real wire protocol over node:http, with controls to
 * inject the failures a watch cache must survive. What it reproduces of the apiserver:
 *
 * - `GET /api/v1/namespaces` → NamespaceList with `metadata.resourceVersion`; `limit`/`continue` chunking from a
 *   snapshot, 410 Expired for a continue token older than a compaction.
 * - `GET /api/v1/namespaces?watch=1&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=T` → chunked stream of
 *   newline-delimited `{"type":…,"object":…}` events after N (N unset or "0": synthetic ADDED for every namespace
 *   first); BOOKMARKs only when allowed; the server ends the stream after `timeoutSeconds`; N older than the last
 *   compaction → 410 Gone, as an HTTP status (`expiredAs: 'status'`) or as an ERROR event (`expiredAs: 'event'`, what
 *   the watch cache does: https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go).
 * - `GET /api/v1/namespaces/{name}` → Namespace or a 404 Status.
 * - `Accept: …;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1` → metadata-only objects, as the apiserver does.
 * - Bearer-token authentication (401 Status otherwise), from the kubeconfig it writes.
 *
 * Everything is plain data; nothing here knows about the code under test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NamespaceInput {
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

/** How a kind of request misbehaves: answer 500, reset the connection, never answer, or answer late. */
export type Fault = 'none' | 'error' | 'reset' | 'hang' | { delayMs: number };
export type RequestKind = 'list' | 'watch' | 'get';

export interface RecordedRequest {
  kind: RequestKind | 'other';
  path: string;
  query: Record<string, string>;
  accept: string;
}

export interface FakeKubeApi {
  readonly url: string;
  /** A kubeconfig (JSON, which is YAML) pointing at this server with its token. */
  readonly kubeconfigPath: string;
  /** A second kubeconfig with a wrong token. */
  readonly badTokenKubeconfigPath: string;
  /** The current (global) resourceVersion. */
  readonly resourceVersion: number;
  readonly counts: Readonly<Record<RequestKind | 'unauthorized' | 'expired', number>>;
  readonly openWatches: number;
  /** The most watch streams ever open at the same time. */
  readonly maxConcurrentWatches: number;
  /** Open TCP connections (any kind). */
  readonly openConnections: number;
  readonly requests: readonly RecordedRequest[];
  /** How a watch from a compacted resourceVersion is refused. Default 'status'. */
  expiredAs: 'status' | 'event';
  names(): string[];
  create(name: string, input?: NamespaceInput): void;
  /** Replaces labels and/or annotations (MODIFIED). `undefined` leaves that map unchanged. */
  update(name: string, input: NamespaceInput): void;
  setLabel(name: string, key: string, value: string | undefined): void;
  delete(name: string): void;
  /** Bumps the resourceVersion without a namespace event (writes to other resources share etcd's revision). */
  advance(by?: number): void;
  /** Sends a BOOKMARK at the current resourceVersion to every open watch that asked for bookmarks. */
  bookmark(): void;
  /** Forgets the event history: a watch from any resourceVersion before now gets 410 Gone. */
  compact(): void;
  /** Sends an ERROR 410 event to every open watch and ends them, like a watch cache that fell out of its window. */
  expireWatches(): void;
  /** Destroys the sockets of every open watch. */
  dropWatches(): void;
  /** While on, watches (open or new) get no more data: a half-open connection as seen from the client. */
  hangWatches(on: boolean): void;
  setFault(kind: RequestKind, fault: Fault): void;
  close(): Promise<void>;
}

interface Namespace {
  name: string;
  uid: string;
  resourceVersion: number;
  creationTimestamp: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface HistoryEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  ns: Namespace;
}

interface Watcher {
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

function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  let rv = 0;
  let uid = 0;
  let compactedRv = 0;
  let hung = false;
  let maxConcurrentWatches = 0;
  const namespaces = new Map<string, Namespace>();
  let history: HistoryEvent[] = [];
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  const hangingResponses = new Set<http.ServerResponse>();
  const counts: Record<RequestKind | 'unauthorized' | 'expired', number> = {
    list: 0,
    watch: 0,
    get: 0,
    unauthorized: 0,
    expired: 0,
  };
  const requests: RecordedRequest[] = [];
  const faults: Record<RequestKind, Fault> = { list: 'none', watch: 'none', get: 'none' };
  // Continue tokens → the snapshot (names at a resourceVersion) they page through.
  const snapshots = new Map<string, { rv: number; items: Namespace[] }>();

  function toObject(ns: Namespace, metadataOnly: boolean, withKind: boolean): Record<string, unknown> {
    const metadata = {
      name: ns.name,
      uid: ns.uid,
      resourceVersion: String(ns.resourceVersion),
      creationTimestamp: ns.creationTimestamp,
      labels: { ...ns.labels },
      ...(Object.keys(ns.annotations).length > 0 ? { annotations: { ...ns.annotations } } : {}),
    };
    const kind = metadataOnly
      ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' }
      : { kind: 'Namespace', apiVersion: 'v1' };
    const body = metadataOnly
      ? { metadata }
      : { metadata, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
    // Items of a typed list carry no kind/apiVersion; a watch event's object and a GET's body do.
    return withKind ? { ...kind, ...body } : body;
  }

  function record(type: HistoryEvent['type'], ns: Namespace): void {
    const event: HistoryEvent = { type, rv: ns.resourceVersion, ns: { ...ns } };
    history.push(event);
    for (const w of watchers) send(w, event);
  }

  function send(w: Watcher, event: HistoryEvent): void {
    if (hung) return;
    w.res.write(`${JSON.stringify({ type: event.type, object: toObject(event.ns, w.metadataOnly, true) })}\n`);
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

  /** Applies a fault; returns true when the request has been dealt with. */
  function applyFault(kind: RequestKind, req: http.IncomingMessage, res: http.ServerResponse, go: () => void): boolean {
    const fault = faults[kind];
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

  function handleList(query: URLSearchParams, res: http.ServerResponse, metadataOnly: boolean): void {
    const limit = Number(query.get('limit') ?? '0');
    const token = query.get('continue');
    let snapshot: { rv: number; items: Namespace[] };
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
      snapshot = {
        rv,
        items: [...namespaces.values()].sort((a, b) => a.name.localeCompare(b.name)).map((n) => ({ ...n })),
      };
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
    sendJson(res, 200, {
      kind: metadataOnly ? 'PartialObjectMetadataList' : 'NamespaceList',
      apiVersion: metadataOnly ? 'meta.k8s.io/v1' : 'v1',
      metadata,
      items: page.map((n) => toObject(n, metadataOnly, false)),
    });
  }

  function handleWatch(
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
      for (const ns of [...namespaces.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        send(w, { type: 'ADDED', rv: ns.resourceVersion, ns });
      }
    } else {
      for (const event of history) if (event.rv > fromRv) send(w, event);
    }
  }

  function handleGet(name: string, res: http.ServerResponse, metadataOnly: boolean): void {
    const ns = namespaces.get(name);
    if (!ns) {
      sendJson(res, 404, statusObject(404, 'NotFound', `namespaces "${name}" not found`, { name, kind: 'namespaces' }));
      return;
    }
    sendJson(res, 200, toObject(ns, metadataOnly, true));
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const accept = req.headers.accept ?? '';
    const metadataOnly = /;as=PartialObjectMetadata(List)?;g=meta\.k8s\.io;v=v1/.test(accept.split(',')[0] ?? '');
    const isWatch = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    const named = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname);
    const kind: RecordedRequest['kind'] =
      req.method !== 'GET'
        ? 'other'
        : url.pathname === '/api/v1/namespaces'
          ? isWatch
            ? 'watch'
            : 'list'
          : named
            ? 'get'
            : 'other';
    requests.push({ kind, path: url.pathname, query: Object.fromEntries(url.searchParams), accept });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      counts.unauthorized++;
      sendJson(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (kind === 'other') {
      sendJson(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    counts[kind]++;
    const go = () => {
      if (kind === 'list') handleList(url.searchParams, res, metadataOnly);
      else if (kind === 'watch') handleWatch(url.searchParams, req, res, metadataOnly);
      else handleGet(decodeURIComponent(named![1]!), res, metadataOnly);
    };
    if (!applyFault(kind, req, res, go)) go();
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

  function mustGet(name: string): Namespace {
    const ns = namespaces.get(name);
    if (!ns) throw new Error(`fake apiserver: namespace "${name}" does not exist`);
    return ns;
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
    names: () => [...namespaces.keys()].sort(),
    create(name, input = {}) {
      if (namespaces.has(name)) throw new Error(`fake apiserver: namespace "${name}" already exists`);
      const ns: Namespace = {
        name,
        uid: `00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`,
        resourceVersion: ++rv,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        // The apiserver sets this label on every namespace (since 1.21).
        labels: { ...input.labels, 'kubernetes.io/metadata.name': name },
        annotations: { ...input.annotations },
      };
      namespaces.set(name, ns);
      record('ADDED', ns);
    },
    update(name, input) {
      const ns = mustGet(name);
      if (input.labels) ns.labels = { ...input.labels, 'kubernetes.io/metadata.name': name };
      if (input.annotations) ns.annotations = { ...input.annotations };
      ns.resourceVersion = ++rv;
      record('MODIFIED', ns);
    },
    setLabel(name, key, value) {
      const labels = { ...mustGet(name).labels };
      if (value === undefined) delete labels[key];
      else labels[key] = value;
      fakeApi.update(name, { labels });
    },
    delete(name) {
      const ns = mustGet(name);
      namespaces.delete(name);
      ns.resourceVersion = ++rv;
      record('DELETED', ns);
    },
    advance(by = 1) {
      rv += by;
    },
    bookmark() {
      if (hung) return;
      for (const w of watchers) {
        if (!w.bookmarks) continue;
        const object = {
          kind: w.metadataOnly ? 'PartialObjectMetadata' : 'Namespace',
          apiVersion: w.metadataOnly ? 'meta.k8s.io/v1' : 'v1',
          metadata: { resourceVersion: String(rv), creationTimestamp: null },
        };
        w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
      }
    },
    compact() {
      compactedRv = rv;
      history = [];
    },
    expireWatches() {
      const gone = statusObject(410, 'Expired', 'too old resource version');
      for (const w of [...watchers]) {
        w.res.write(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
        endWatch(w);
      }
    },
    dropWatches() {
      for (const w of [...watchers]) {
        watchers.delete(w);
        clearTimeout(w.timer);
        w.socket.destroy();
      }
    },
    hangWatches(on) {
      hung = on;
    },
    setFault(kind, fault) {
      faults[kind] = fault;
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
