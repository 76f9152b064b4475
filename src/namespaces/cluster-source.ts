/**
 * The cluster-backed namespace source: a list+watch cache of Namespace metadata, kept the way client-go's reflector
 * keeps one (https://github.com/kubernetes/client-go/blob/master/tools/cache/reflector.go), with the failure modes a
 * webhook cannot afford to ignore handled explicitly:
 *
 * - one loop owns every list and watch, so there is never more than one watch open;
 * - 410 Gone ("too old resource version"), as an HTTP status or as an ERROR event in the stream, triggers a relist;
 * - a stream that ends or fails is re-opened from the last resourceVersion with exponential backoff and full jitter;
 * - a stream that goes silent (half-open TCP: the peer vanished without FIN/RST) is detected by an inactivity timer —
 *   a real apiserver sends a BOOKMARK about every minute (`nextBookmarkTime` in
 *   https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go),
 *   so silence well beyond that means the connection is dead — and answered by a relist;
 * - a periodic full relist (with jitter) bounds the damage of any bug that lets the cache drift.
 *
 * Only `toNamespaceInfo(metadata)` is kept per namespace, and the requests ask for PartialObjectMetadata so the
 * apiserver does not even send spec/status. The transport is node:http(s) with the TLS material, proxy agent and
 * credentials (token file, exec plugin, client certificate…) that `KubeConfig.applyToHTTPSOptions` resolves, freshly
 * for every request so rotated service-account tokens are picked up.
 *
 * No logger here: everything observable goes through the `observer` callbacks, `stats()` and `lastHeardAt()`.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { formatZodError } from '../config/schema.ts';
import type { NamespaceInfo } from '../core/types.ts';
import { type NamespaceLookup, type NamespaceSource, type NamespaceSourceStatus, toNamespaceInfo } from './source.ts';

export type RelistReason = 'initial' | 'expired' | 'inactivity' | 'periodic';
/** Why a watch ended and another one (possibly after a relist) is being opened. */
export type WatchRestartReason = 'closed' | 'error' | 'expired' | 'inactivity' | 'periodic';
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export type DirectGetResult = 'found' | 'not-found' | 'error';
export type SourcePhase = 'list' | 'watch' | 'get';

/** How the source reports; every callback is optional and must not throw (exceptions are swallowed). */
export interface ClusterSourceObserver {
  /** A full list starts (each attempt; a failed attempt is followed by `onError(err, 'list')` and a retry). */
  onRelist?(reason: RelistReason): void;
  /** A full list completed and the cache was swapped. */
  onSynced?(info: { reason: RelistReason; size: number; resourceVersion: string; pages: number }): void;
  /** A watch ended (not because of stop()) and the loop is about to re-open it, after a relist if `reason` needs one. */
  onWatchRestart?(reason: WatchRestartReason, detail?: string): void;
  /** One event decoded from the watch stream. */
  onEvent?(type: WatchEventType): void;
  /** A cache miss answered by a direct GET. */
  onDirectGet?(result: DirectGetResult): void;
  onError?(error: Error, phase: SourcePhase): void;
}

/**
 * One observer that calls each of `observers` in turn (metrics and logs, say). Every callback is there, and a throw
 * from one observer is swallowed: it neither silences the others nor reaches the caller.
 */
export function combineObservers(...observers: ClusterSourceObserver[]): Required<ClusterSourceObserver> {
  const each =
    <K extends keyof ClusterSourceObserver>(name: K) =>
    (...args: Parameters<NonNullable<ClusterSourceObserver[K]>>) => {
      for (const o of observers) {
        try {
          (o[name] as ((...a: unknown[]) => void) | undefined)?.(...args);
        } catch {
          // One observer's bug does not silence the others.
        }
      }
    };
  return {
    onRelist: each('onRelist'),
    onSynced: each('onSynced'),
    onWatchRestart: each('onWatchRestart'),
    onEvent: each('onEvent'),
    onDirectGet: each('onDirectGet'),
    onError: each('onError'),
  };
}

/** The loop's state, for tests (counts by reason and result are the observer's business: see runtime-metrics.ts). */
export interface ClusterSourceStats {
  /** The resourceVersion the next watch starts from. */
  resourceVersion: string | undefined;
  /** 0 or 1: the loop never holds two. */
  watchesOpen: number;
  /** Events decoded from watches, by type. */
  events: Record<WatchEventType, number>;
}

export interface ClusterNamespaceSource extends NamespaceSource {
  stats(): ClusterSourceStats;
  /** Epoch ms the cache last heard from the API server: a completed full list, or a watch event or bookmark. */
  lastHeardAt(): number | undefined;
}

export interface ClusterNamespaceSourceOptions {
  /** `--kubeconfig` (a file or a path list). See `loadKubeConfig`. */
  kubeconfig?: string | undefined;
  /** Where `$KUBECONFIG`, the in-cluster variables and `$HOME` are read. Default process.env. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  observer?: ClusterSourceObserver | undefined;
  /** Timeout of the direct GET on a cache miss. Default 1000 ms. */
  directGetTimeoutMs?: number | undefined;
  /** Timeout of one list page. Default 30 s. */
  listTimeoutMs?: number | undefined;
  /** No event or bookmark for this long on an open watch (or before its response) → abort and relist. Default 120 s. */
  inactivityTimeoutMs?: number | undefined;
  /**
   * `timeoutSeconds` sent with each watch, after which the server ends the stream cleanly and the loop re-opens it.
   * Default: random in [300, 600) like the reflector (minWatchTimeout 5 min × [1, 2)), to spread reconnects.
   */
  watchTimeoutSeconds?: number | undefined;
  /** Full relist every this long, ± `relistJitter`. Default 10 min; 0 disables. */
  relistIntervalMs?: number | undefined;
  /** Default 0.1 (±10 %). */
  relistJitter?: number | undefined;
  /** Not ready when no list, accepted watch, event or bookmark for this long. Default 5 min. */
  staleAfterMs?: number | undefined;
  /** Backoff between failed attempts: full jitter over min(max, initial × 2^n). Defaults as client-go's reflector. */
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  /** The backoff restarts from `backoffInitialMs` once this long has passed since the previous backoff. */
  backoffResetMs?: number | undefined;
  /** `limit` of each list page. Default 500, as client-go's pager. */
  pageSize?: number | undefined;
}

/** The Kubernetes client configuration cannot be loaded: a startup error to report as is (no stack needed). */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: a file, or a path list like `$KUBECONFIG` (the first file to define a name wins). */
  kubeconfig?: string | undefined;
  /** Where `KUBECONFIG`, `KUBERNETES_SERVICE_HOST`/`_PORT` and `HOME` are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Prefix of /var/run/secrets/kubernetes.io/serviceaccount, for tests of the in-cluster branch. Default ''. */
  inClusterPathPrefix?: string | undefined;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const SERVICE_ACCOUNT_TOKEN = `${SERVICE_ACCOUNT}/token`;

/**
 * Loads the client configuration in controller-runtime's order
 * (https://github.com/kubernetes-sigs/controller-runtime/blob/main/pkg/client/config/config.go): the `--kubeconfig`
 * flag, then `$KUBECONFIG`, then the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT + token file), then
 * `~/.kube/config`. Unlike `KubeConfig.loadFromDefault`, it never falls back to an unauthenticated localhost:8080.
 * Every variable comes from `opts.env`, so the caller decides which environment counts.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  const env = opts.env ?? process.env;
  const prefix = opts.inClusterPathPrefix ?? '';
  const home = env.HOME || homedir();
  let kc: KubeConfig;
  if (opts.kubeconfig) {
    kc = loadFiles(opts.kubeconfig, '--kubeconfig');
  } else if (env.KUBECONFIG) {
    kc = loadFiles(env.KUBECONFIG, 'KUBECONFIG');
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    kc = inCluster(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT, prefix);
  } else if (home && existsSync(join(home, '.kube', 'config'))) {
    kc = loadFiles(join(home, '.kube', 'config'), '~/.kube/config');
  } else {
    throw new KubeConfigError(
      'no Kubernetes client configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster',
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(`kubeconfig: current context "${kc.getCurrentContext() ?? ''}" names no known cluster`);
  }
  if (!/^https?:\/\//.test(cluster.server ?? '')) {
    throw new KubeConfigError(`kubeconfig: cluster "${cluster.name}" server "${cluster.server}" is not an http(s) URL`);
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // @kubernetes/client-node refuses plain http otherwise; say so now rather than on every request.
    throw new KubeConfigError(
      `kubeconfig: cluster "${cluster.name}" uses ${cluster.server}: plain http needs insecure-skip-tls-verify: true`,
    );
  }
  return kc;
}

/**
 * The service account's configuration, as client-go's rest.InClusterConfig builds it
 * (https://github.com/kubernetes/client-go/blob/master/rest/config.go): https to the service host and port, the
 * mounted CA, and the token file, re-read as the kubelet rotates it. Not `KubeConfig.loadFromCluster`, which reads
 * process.env itself.
 */
function inCluster(host: string, port: string, prefix: string): KubeConfig {
  const tokenFile = prefix + SERVICE_ACCOUNT_TOKEN;
  if (!existsSync(tokenFile)) {
    throw new KubeConfigError(
      `in-cluster configuration: ${tokenFile} is missing (automountServiceAccountToken: false?)`,
    );
  }
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: 'inCluster',
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: `${prefix}${SERVICE_ACCOUNT}/ca.crt`,
      skipTLSVerify: false,
    },
    { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } },
  );
  return kc;
}

/** Loads a path list with kubectl's merge rule: the first file to set a name (or the current context) wins. */
function loadFiles(list: string, from: string): KubeConfig {
  const files = list.split(delimiter).filter(Boolean);
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: undefined });
  let loaded = 0;
  for (const file of files) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // kubectl and client-go skip missing files in a KUBECONFIG list; only an explicit path must exist
      // (https://github.com/kubernetes/client-go/blob/master/tools/clientcmd/loader.go, ClientConfigLoadingRules.Load).
      if (code === 'ENOENT' && from === 'KUBECONFIG') continue;
      const why = code === 'ENOENT' ? 'not found' : errorOf(error).message;
      throw new KubeConfigError(`kubeconfig ${file} (${from}): ${why}`);
    }
    loaded++;
    const has = (list: Array<{ name: string }>, name: string) => list.some((x) => x.name === name);
    for (const c of kc.getClusters()) if (!has(merged.clusters, c.name)) merged.clusters.push(c);
    for (const u of kc.getUsers()) if (!has(merged.users, u.name)) merged.users.push(u);
    for (const c of kc.getContexts()) if (!has(merged.contexts, c.name)) merged.contexts.push(c);
    if (!merged.currentContext && kc.currentContext) merged.currentContext = kc.currentContext;
  }
  if (loaded === 0) throw new KubeConfigError(`none of the files in ${from} exists: ${list}`);
  return merged;
}

// Ask for metadata only, as client-go's metadata client does
// (https://github.com/kubernetes/client-go/blob/master/metadata/metadata.go); plain JSON is the listed fallback.
const ACCEPT_OBJECT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
const ACCEPT_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

const stringMap = z.record(z.string(), z.string()).nullish();
const metadataSchema = z.object({
  name: z.string().min(1),
  resourceVersion: z.string().optional(),
  labels: stringMap,
  annotations: stringMap,
});
const objectSchema = z.object({ metadata: metadataSchema });
const listSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().min(1), continue: z.string().optional() }),
  items: z.array(objectSchema).nullish(),
});
const eventSchema = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.unknown(),
});
const bookmarkSchema = z.object({ metadata: z.object({ resourceVersion: z.string().min(1) }) });
const statusSchema = z.object({
  kind: z.literal('Status').optional(),
  code: z.number().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

/** A non-2xx answer in words: `HTTP 500: <the Status message>` (or the start of the body when it is no Status). */
function httpError(status: number, body: string): string {
  const parsed = statusSchema.safeParse(safeJson(body));
  const detail = parsed.success && parsed.data.message ? parsed.data.message : body.slice(0, 200).trim();
  return `HTTP ${status}${detail ? `: ${detail}` : ''}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * An AbortSignal that follows `sources` until disposed. Not `AbortSignal.any`: combined with the source's lifetime
 * signal, observed composites pile up on it (https://github.com/nodejs/node/issues/64476).
 */
function linked(...sources: AbortSignal[]): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listeners: Array<[AbortSignal, () => void]> = [];
  for (const source of sources) {
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    const forward = () => controller.abort(source.reason);
    source.addEventListener('abort', forward, { once: true });
    listeners.push([source, forward]);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [source, forward] of listeners) source.removeEventListener('abort', forward);
    },
  };
}

type Outcome =
  | { kind: 'closed'; healthy: boolean }
  | { kind: 'error'; error: Error }
  | { kind: 'expired'; detail: string }
  | { kind: 'inactivity' }
  | { kind: 'periodic' }
  | { kind: 'stopped' };

/** Abort reasons the loop puts on a watch's controller. */
const ABORT_INACTIVITY = 'inactivity';
const ABORT_PERIODIC = 'periodic';

export function createClusterNamespaceSource(opts: ClusterNamespaceSourceOptions = {}): ClusterNamespaceSource {
  const kc = loadKubeConfig({ kubeconfig: opts.kubeconfig, env: opts.env });
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/+$/, '');
  const observer = combineObservers(opts.observer ?? {});
  const now = Date.now;
  const random = Math.random;
  const directGetTimeoutMs = opts.directGetTimeoutMs ?? 1000;
  const listTimeoutMs = opts.listTimeoutMs ?? 30_000;
  const inactivityTimeoutMs = opts.inactivityTimeoutMs ?? 120_000;
  const relistIntervalMs = opts.relistIntervalMs ?? 600_000;
  const relistJitter = opts.relistJitter ?? 0.1;
  const staleAfterMs = opts.staleAfterMs ?? 300_000;
  const backoffInitialMs = opts.backoffInitialMs ?? 800;
  const backoffMaxMs = opts.backoffMaxMs ?? 30_000;
  const backoffResetMs = opts.backoffResetMs ?? 120_000;
  const pageSize = opts.pageSize ?? 500;

  // The cache is replaced, never cleared, on a relist: a lookup sees the old map or the new one, never half of one.
  let cache = new Map<string, NamespaceInfo>();
  // Names deleted by the watch since the last list, so a slow direct GET cannot resurrect them.
  let deletedSinceList = new Set<string>();
  let resourceVersion: string | undefined;
  let synced = false;
  /** Last completed list, event or bookmark: what the last-event-age gauge shows. */
  let lastHeardAt: number | undefined;
  /** Last proof of freshness for readiness: the same, or a watch the server accepted. */
  let lastActivityAt: number | undefined;
  let lastError: string | undefined;
  let watchesOpen = 0;
  const events: Record<WatchEventType, number> = { ADDED: 0, MODIFIED: 0, DELETED: 0, BOOKMARK: 0, ERROR: 0 };

  const lifetime = new AbortController();
  let loop: Promise<void> | undefined;
  let started: Promise<void> | undefined;
  let resolveStarted: (() => void) | undefined;
  let currentWatch: AbortController | undefined;
  let relistTimer: NodeJS.Timeout | undefined;
  let relistRequested = false;
  const inflight = new Map<string, Promise<NamespaceLookup>>();

  let backoffAttempt = 0;
  let lastBackoffAt = Number.NEGATIVE_INFINITY;

  function fail(error: Error, phase: SourcePhase): void {
    lastError = error.message;
    observer.onError(error, phase);
  }

  /** Full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). */
  async function backoff(): Promise<void> {
    const t = now();
    if (t - lastBackoffAt >= backoffResetMs) backoffAttempt = 0;
    lastBackoffAt = t;
    const ceiling = Math.min(backoffMaxMs, backoffInitialMs * 2 ** backoffAttempt);
    backoffAttempt = Math.min(backoffAttempt + 1, 30);
    try {
      await sleep(Math.floor(random() * ceiling), undefined, { signal: lifetime.signal });
    } catch {
      // stop() during the wait: the loop checks the signal next.
    }
  }

  interface Opened {
    req: http.ClientRequest;
    res: http.IncomingMessage;
  }

  /** Sends a GET with the kubeconfig's credentials; resolves with the response head. */
  async function open(path: string, accept: string, signal: AbortSignal): Promise<Opened> {
    const options: https.RequestOptions = { method: 'GET', headers: { Accept: accept, 'User-Agent': 'dns-tuner' } };
    await kc.applyToHTTPSOptions(options);
    signal.throwIfAborted();
    const url = new URL(server + path);
    const request = url.protocol === 'https:' ? https.request : http.request;
    return await new Promise<Opened>((resolve, reject) => {
      const req = request(url, { ...options, signal });
      // TCP keepalive as client-go's dialer sets it: lets the kernel notice a dead peer on an idle stream.
      req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      req.on('error', reject);
      req.on('response', (res) => resolve({ req, res }));
      req.end();
    });
  }

  /** Destroys the request (if still open) and waits for its socket to be released. */
  async function release(req: http.ClientRequest): Promise<void> {
    if (req.closed) return;
    await new Promise<void>((resolve) => {
      req.once('close', () => resolve());
      req.destroy();
    });
  }

  async function readBody(res: http.IncomingMessage): Promise<string> {
    res.setEncoding('utf8');
    let body = '';
    for await (const chunk of res) body += chunk as string;
    return body;
  }

  /** GET → [status, body text]; the signal covers the whole exchange. */
  async function getText(path: string, accept: string, signal: AbortSignal): Promise<[number, string]> {
    const { req, res } = await open(path, accept, signal);
    try {
      return [res.statusCode ?? 0, await readBody(res)];
    } finally {
      await release(req);
    }
  }

  function withTimeout<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${ms} ms`)), ms);
    const link = linked(lifetime.signal, timeout.signal);
    return fn(link.signal).finally(() => {
      clearTimeout(timer);
      link.dispose();
    });
  }

  async function relist(reason: RelistReason): Promise<void> {
    observer.onRelist(reason);
    const next = new Map<string, NamespaceInfo>();
    let listRv = '';
    let cont: string | undefined;
    let pages = 0;
    let restarts = 0;
    do {
      const query = new URLSearchParams({ limit: String(pageSize) });
      if (cont) query.set('continue', cont);
      // No resourceVersion: a consistent read, so the cache never travels back in time
      // (https://github.com/kubernetes/kubernetes/issues/59848).
      const [status, body] = await withTimeout(listTimeoutMs, (signal) =>
        getText(`/api/v1/namespaces?${query}`, ACCEPT_LIST, signal),
      );
      if (status === 410 && cont && restarts < 3) {
        // The continue token outlived etcd compaction: start the list over.
        restarts++;
        next.clear();
        cont = undefined;
        continue;
      }
      if (status !== 200) throw new Error(`list namespaces: ${httpError(status, body)}`);
      const parsed = listSchema.safeParse(safeJson(body));
      if (!parsed.success) throw new Error(`list namespaces: unexpected response: ${formatZodError(parsed.error)}`);
      for (const item of parsed.data.items ?? []) next.set(item.metadata.name, toNamespaceInfo(item.metadata));
      listRv = parsed.data.metadata.resourceVersion;
      cont = parsed.data.metadata.continue || undefined;
      pages++;
    } while (cont);
    cache = next;
    deletedSinceList = new Set();
    resourceVersion = listRv;
    synced = true;
    lastHeardAt = lastActivityAt = now();
    lastError = undefined;
    observer.onSynced({ reason, size: next.size, resourceVersion: listRv, pages });
  }

  function scheduleRelist(): void {
    clearTimeout(relistTimer);
    relistTimer = undefined;
    if (relistIntervalMs <= 0 || lifetime.signal.aborted) return;
    const delay = relistIntervalMs * (1 + relistJitter * (2 * random() - 1));
    relistTimer = setTimeout(() => {
      relistTimer = undefined;
      relistRequested = true;
      currentWatch?.abort(ABORT_PERIODIC);
    }, delay);
  }

  /** Applies one decoded line; returns an outcome when the stream must end. */
  function apply(line: string): Outcome | undefined {
    const decoded = eventSchema.safeParse(safeJson(line));
    if (!decoded.success) {
      return { kind: 'error', error: new Error(`watch: undecodable event: ${formatZodError(decoded.error)}`) };
    }
    const { type, object } = decoded.data;
    events[type]++;
    observer.onEvent(type);
    if (type === 'ERROR') {
      const status = statusSchema.safeParse(object);
      const s = status.success ? status.data : {};
      const detail = `${s.code ?? '?'} ${s.reason ?? ''} ${s.message ?? ''}`.replace(/\s+/g, ' ').trim();
      // https://github.com/kubernetes/apimachinery/blob/master/pkg/api/errors/errors.go (IsResourceExpired / IsGone)
      if (s.code === 410) return { kind: 'expired', detail };
      return { kind: 'error', error: new Error(`watch: ERROR event: ${detail}`) };
    }
    if (type === 'BOOKMARK') {
      const bookmark = bookmarkSchema.safeParse(object);
      if (!bookmark.success) {
        return { kind: 'error', error: new Error(`watch: bad BOOKMARK: ${formatZodError(bookmark.error)}`) };
      }
      resourceVersion = bookmark.data.metadata.resourceVersion;
    } else {
      const parsed = objectSchema.safeParse(object);
      if (!parsed.success) {
        return { kind: 'error', error: new Error(`watch: bad ${type} object: ${formatZodError(parsed.error)}`) };
      }
      const meta = parsed.data.metadata;
      if (type === 'DELETED') {
        cache.delete(meta.name);
        deletedSinceList.add(meta.name);
      } else {
        cache.set(meta.name, toNamespaceInfo(meta));
        deletedSinceList.delete(meta.name);
      }
      if (meta.resourceVersion) resourceVersion = meta.resourceVersion;
    }
    lastHeardAt = lastActivityAt = now();
    return undefined;
  }

  /** One watch, from `resourceVersion` until it ends; never leaves its connection open behind it. */
  async function watchOnce(): Promise<Outcome> {
    const controller = new AbortController();
    currentWatch = controller;
    const signal = controller.signal;
    const onStop = () => controller.abort();
    lifetime.signal.addEventListener('abort', onStop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(ABORT_INACTIVITY), inactivityTimeoutMs);
    };
    const aborted = (): Outcome | undefined => {
      if (lifetime.signal.aborted) return { kind: 'stopped' };
      if (controller.signal.reason === ABORT_INACTIVITY) return { kind: 'inactivity' };
      if (controller.signal.reason === ABORT_PERIODIC) return { kind: 'periodic' };
      return undefined;
    };
    const startedAt = now();
    let opened: Opened | undefined;
    arm();
    try {
      const timeoutSeconds = opts.watchTimeoutSeconds ?? Math.floor(300 * (1 + random()));
      const query = new URLSearchParams({
        watch: '1',
        resourceVersion: resourceVersion ?? '',
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(timeoutSeconds),
      });
      opened = await open(`/api/v1/namespaces?${query}`, ACCEPT_OBJECT, signal);
      const { res } = opened;
      if (res.statusCode !== 200) {
        const body = await readBody(res);
        if (res.statusCode === 410) return { kind: 'expired', detail: `HTTP 410 ${body.slice(0, 200)}` };
        return { kind: 'error', error: new Error(`watch namespaces: ${httpError(res.statusCode ?? 0, body)}`) };
      }
      watchesOpen = 1;
      lastActivityAt = now();
      arm();
      let decoded = 0;
      return await new Promise<Outcome>((resolve) => {
        let done = false;
        let buffer = '';
        const finish = (outcome: Outcome) => {
          if (done) return;
          done = true;
          resolve(outcome);
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (done) return;
          buffer += chunk;
          for (let nl = buffer.indexOf('\n'); nl >= 0 && !done; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const outcome = apply(line);
            if (outcome) finish(outcome);
            else {
              decoded++;
              arm();
            }
          }
        });
        res.on('end', () => {
          // A server-side timeout ends the stream cleanly. A stream that ends at once with nothing in it is not
          // healthy (client-go: "very short watch"), so it goes through the backoff.
          finish({ kind: 'closed', healthy: decoded > 0 || now() - startedAt >= 1000 });
        });
        res.on('error', (err) => finish(aborted() ?? { kind: 'error', error: errorOf(err) }));
        res.on('close', () =>
          finish(aborted() ?? { kind: 'error', error: new Error('watch: connection closed mid-stream') }),
        );
      });
    } catch (err) {
      return aborted() ?? { kind: 'error', error: errorOf(err) };
    } finally {
      clearTimeout(timer);
      lifetime.signal.removeEventListener('abort', onStop);
      if (opened) await release(opened.req);
      watchesOpen = 0;
      if (currentWatch === controller) currentWatch = undefined;
    }
  }

  async function run(): Promise<void> {
    let pending: RelistReason | undefined = 'initial';
    while (!lifetime.signal.aborted) {
      if (!pending && relistRequested) pending = 'periodic';
      // No proof of life for longer than the inactivity bound while watches keep failing: start over from a list.
      if (!pending && lastActivityAt !== undefined && now() - lastActivityAt > inactivityTimeoutMs) {
        pending = 'inactivity';
      }
      if (pending) {
        clearTimeout(relistTimer);
        relistTimer = undefined;
        relistRequested = false;
        try {
          await relist(pending);
        } catch (err) {
          if (lifetime.signal.aborted) break;
          fail(errorOf(err), 'list');
          await backoff();
          continue;
        }
        pending = undefined;
        scheduleRelist();
        resolveStarted?.();
      }
      const outcome = await watchOnce();
      if (lifetime.signal.aborted || outcome.kind === 'stopped') break;
      switch (outcome.kind) {
        case 'closed':
          observer.onWatchRestart('closed');
          if (!outcome.healthy) await backoff();
          break;
        case 'error':
          fail(outcome.error, 'watch');
          observer.onWatchRestart('error', outcome.error.message);
          await backoff();
          break;
        case 'expired':
          observer.onWatchRestart('expired', outcome.detail);
          pending = 'expired';
          // Relisting at once after a 410 is what the reflector does, but not in a tight loop.
          await backoff();
          break;
        case 'inactivity':
          fail(new Error(`watch: no event or bookmark for ${inactivityTimeoutMs} ms`), 'watch');
          observer.onWatchRestart('inactivity');
          pending = 'inactivity';
          break;
        case 'periodic':
          observer.onWatchRestart('periodic');
          pending = 'periodic';
          break;
      }
    }
  }

  async function fetchNamespace(name: string): Promise<NamespaceLookup> {
    const before = cache;
    const failed = (why: string): NamespaceLookup => {
      const error = `get namespace "${name}": ${why}`;
      observer.onDirectGet('error');
      observer.onError(new Error(error), 'get');
      return { found: false, error };
    };
    let status: number;
    let body: string;
    try {
      [status, body] = await withTimeout(directGetTimeoutMs, (signal) =>
        getText(`/api/v1/namespaces/${encodeURIComponent(name)}`, ACCEPT_OBJECT, signal),
      );
    } catch (err) {
      let error = errorOf(err);
      if (error.name === 'AbortError' && error.cause instanceof Error) error = error.cause;
      return failed(error.message);
    }
    if (status === 404) {
      observer.onDirectGet('not-found');
      return { found: false };
    }
    if (status !== 200) return failed(httpError(status, body));
    const parsed = objectSchema.safeParse(safeJson(body));
    if (!parsed.success) return failed(`unexpected response: ${formatZodError(parsed.error)}`);
    const ns = toNamespaceInfo(parsed.data.metadata);
    // Only fill a gap in the same generation of the cache: the watch (or a relist) stays the authority.
    if (cache === before && !cache.has(name) && !deletedSinceList.has(name)) cache.set(name, ns);
    observer.onDirectGet('found');
    return { found: true, namespace: ns };
  }

  return {
    async lookup(name: string, signal?: AbortSignal): Promise<NamespaceLookup> {
      const hit = cache.get(name);
      if (hit) return { found: true, namespace: hit };
      if (!name) return { found: false };
      if (lifetime.signal.aborted) return { found: false, error: 'namespace source is stopped' };
      // Pods of a brand-new namespace arrive in bursts: one GET answers all of them.
      let pending = inflight.get(name);
      if (!pending) {
        pending = fetchNamespace(name).finally(() => inflight.delete(name));
        inflight.set(name, pending);
      }
      if (!signal) return pending;
      if (signal.aborted) return { found: false, error: 'lookup aborted' };
      const abort = Promise.withResolvers<NamespaceLookup>();
      const onAbort = () => abort.resolve({ found: false, error: 'lookup aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await Promise.race([pending, abort.promise]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },

    status(): NamespaceSourceStatus {
      const size = cache.size;
      const why = lastError ? ` (last error: ${lastError})` : '';
      if (!synced) return { ready: false, reason: `namespace cache has not synced yet${why}`, size };
      const age = now() - (lastActivityAt ?? 0);
      if (age > staleAfterMs) {
        return {
          ready: false,
          reason: `namespace cache is stale: no list, watch event or bookmark for ${Math.round(age / 1000)} s${why}`,
          size,
        };
      }
      return { ready: true, size };
    },

    start(): Promise<void> {
      if (started) return started;
      if (lifetime.signal.aborted) return Promise.reject(new Error('namespace source is stopped'));
      started = new Promise<void>((resolve, reject) => {
        resolveStarted = resolve;
        lifetime.signal.addEventListener(
          'abort',
          () => reject(new Error('namespace source stopped before the first list completed')),
          { once: true },
        );
      });
      loop = run().catch((err) => fail(errorOf(err), 'watch'));
      return started;
    },

    async stop(): Promise<void> {
      lifetime.abort();
      clearTimeout(relistTimer);
      relistTimer = undefined;
      await loop;
      await Promise.allSettled([...inflight.values()]);
    },

    entries: () => cache.values(),
    stats: () => ({ resourceVersion, watchesOpen, events: { ...events } }),
    lastHeardAt: () => lastHeardAt,
  };
}
