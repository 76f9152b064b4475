/**
 * A list+watch cache of any resource, kept the way client-go's reflector keeps one: the loop's rules are the state
 * machine in ./list-watch-state.ts; this file performs its actions (list, watch, backoff sleep, timers) with the API
 * client and keeps the store.
 *
 * The store holds what `project(object)` keeps of each object — never the object itself — keyed `namespace/name`
 * (`name` for cluster-scoped kinds), as client-go's MetaNamespaceKeyFunc does. A relist builds a new map and swaps it
 * in at once: a reader sees the old state or the new one, never half of one.
 *
 * No logger here: everything observable goes through the `observer` callbacks, `stats()` and `lastHeardAt()`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { describeIssues } from '../zod/issues.ts';
import { linkedSignal } from './abort.ts';
import { type ApiClient, ApiError, WatchInactivityError, type WatchStream, withContext } from './api-client.ts';
import {
  type Context,
  IO_ACTIONS,
  initialState,
  type ListWatchAction,
  type ListWatchEvent,
  type ListWatchSettings,
  type ListWatchState,
  type Phase,
  type RelistReason,
  readiness,
  transition,
  type WatchEnd,
  type WatchEventType,
  type WatchRestartReason,
} from './list-watch-state.ts';

export type { Phase, RelistReason, WatchEventType, WatchRestartReason } from './list-watch-state.ts';
export { WATCH_RESTART_REASONS } from './list-watch-state.ts';

export interface SyncInfo {
  reason: RelistReason;
  size: number;
  resourceVersion: string;
  pages: number;
}

/** How a cache reports; every callback is optional and must not throw (exceptions are swallowed). */
export interface ListWatchObserver {
  /** A full list starts (each attempt; a failed attempt is followed by `onError(err, 'list')` and a retry). */
  onRelist?(reason: RelistReason): void;
  /** A full list completed and the store was swapped. */
  onSynced?(info: SyncInfo): void;
  /** A watch ended (not because of stop()) and the loop is about to re-open it, after a relist if `reason` needs one. */
  onWatchRestart?(reason: WatchRestartReason, detail?: string): void;
  /** One event decoded from the watch stream. */
  onEvent?(type: WatchEventType): void;
  onError?(error: Error, phase: 'list' | 'watch'): void;
}

/** The loop's state, for tests and probes. */
export interface ListWatchStats {
  phase: Phase;
  /** The resourceVersion the next watch starts from. */
  resourceVersion: string | undefined;
  /** 0 or 1: the loop never holds two. */
  watchesOpen: number;
  /** Events decoded from watches, by type. */
  events: Record<WatchEventType, number>;
}

export interface ListWatchStatus {
  /** False until the first full list has synced, and while the store is staler than its bound. */
  ready: boolean;
  /** Why not ready. */
  reason?: string;
  size: number;
}

export interface ListWatchTiming {
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

export interface ListWatchCacheOptions<T> extends ListWatchTiming {
  client: ApiClient;
  /** The collection: `/api/v1/namespaces`, `/api/v1/namespaces/kube-system/services`, `/apis/apps/v1/daemonsets`… */
  path: string;
  /** What errors call the resource ("list networkpolicies: …"). Default: the path's last segment. */
  resource?: string | undefined;
  /** What readiness reasons and stop errors call the cache. Default "<resource> cache". */
  name?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Ask for PartialObjectMetadata: enough when `project` reads only metadata, and far less to transfer and parse. */
  metadataOnly?: boolean | undefined;
  /**
   * What the store keeps of an object (the raw decoded JSON): only what decisions need. `undefined` → not kept (and
   * dropped if it was). Throws when the object is malformed; the message names the field.
   */
  project(object: unknown): T | undefined;
  observer?: ListWatchObserver | undefined;
  /** For tests. Default Date.now and Math.random. */
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
}

export interface ListWatchCache<T> {
  get(key: string): T | undefined;
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
  /** Changes whenever a relist swaps the store; see `fill`. */
  generation(): number;
  /**
   * Adds what a direct GET found, unless the store was relisted since `generation`, already has `key`, or the watch
   * deleted it since the last list: the watch (or a relist) stays the authority, and a slow GET cannot resurrect.
   */
  fill(key: string, value: T, generation: number): boolean;
  status(): ListWatchStatus;
  /** Starts the loop; resolves once the first full list is in, rejects if stop() comes first. Idempotent. */
  start(): Promise<void>;
  /** Ends the loop and its connections; resolves when nothing of it runs any more. */
  stop(): Promise<void>;
  stats(): ListWatchStats;
  /** Epoch ms the cache last heard from the API server: a completed full list, or a watch event or bookmark. */
  lastHeardAt(): number | undefined;
}

const metadataSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().optional(),
    resourceVersion: z.string().optional(),
  }),
});

/** `namespace/name`, or `name` for a cluster-scoped object (client-go's MetaNamespaceKeyFunc). */
export function keyOf(metadata: { name: string; namespace?: string | undefined }): string {
  return metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name;
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Abort reasons the loop puts on a watch. */
const PERIODIC = new Error('periodic relist');
const STOPPED = new Error('stopped');

export function createListWatchCache<T>(opts: ListWatchCacheOptions<T>): ListWatchCache<T> {
  const { client, path } = opts;
  const resource = opts.resource ?? path.split('/').filter(Boolean).at(-1) ?? path;
  const name = opts.name ?? `${resource} cache`;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const observer = opts.observer ?? {};
  const listTimeoutMs = opts.listTimeoutMs ?? 30_000;
  const staleAfterMs = opts.staleAfterMs ?? 300_000;
  const settings: ListWatchSettings = {
    inactivityTimeoutMs: opts.inactivityTimeoutMs ?? 120_000,
    watchTimeoutSeconds: opts.watchTimeoutSeconds,
    relistIntervalMs: opts.relistIntervalMs ?? 600_000,
    relistJitter: opts.relistJitter ?? 0.1,
    backoffInitialMs: opts.backoffInitialMs ?? 800,
    backoffMaxMs: opts.backoffMaxMs ?? 30_000,
    backoffResetMs: opts.backoffResetMs ?? 120_000,
    shortWatchMs: 1000,
  };
  const selectors = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };

  let state: ListWatchState = initialState;
  let items = new Map<string, T>();
  let generation = 0;
  // Keys deleted by the watch since the last list, so a slow direct GET cannot resurrect them.
  let deletedSinceList = new Set<string>();
  const events: Record<WatchEventType, number> = { ADDED: 0, MODIFIED: 0, DELETED: 0, BOOKMARK: 0, ERROR: 0 };

  const lifetime = new AbortController();
  let loop: Promise<void> | undefined;
  let started: PromiseWithResolvers<void> | undefined;
  let currentWatch: AbortController | undefined;
  let relistTimer: NodeJS.Timeout | undefined;

  /** One observer's bug must not break the loop. */
  function report<K extends keyof ListWatchObserver>(
    key: K,
    ...args: Parameters<NonNullable<ListWatchObserver[K]>>
  ): void {
    try {
      (observer[key] as ((...a: unknown[]) => void) | undefined)?.(...args);
    } catch {
      // Swallowed, as documented.
    }
  }

  function effect(action: ListWatchAction): void {
    switch (action.type) {
      case 'abort-watch':
        currentWatch?.abort(PERIODIC);
        break;
      case 'abort-all':
        lifetime.abort(STOPPED);
        break;
      case 'schedule-relist':
        clearTimeout(relistTimer);
        relistTimer = setTimeout(() => {
          relistTimer = undefined;
          dispatchExternal({ type: 'relist-due' });
        }, action.ms);
        break;
      case 'cancel-relist':
        clearTimeout(relistTimer);
        relistTimer = undefined;
        break;
      case 'relisting':
        report('onRelist', action.reason);
        break;
      case 'synced':
        report('onSynced', {
          reason: action.reason,
          size: action.size,
          resourceVersion: action.resourceVersion,
          pages: action.pages,
        });
        started?.resolve();
        break;
      case 'watch-restart':
        report('onWatchRestart', action.reason, action.detail);
        break;
      case 'error':
        report('onError', action.error, action.phase);
        break;
    }
  }

  type Io = Extract<ListWatchAction, { type: 'list' | 'watch' | 'sleep' }>;

  /** Applies one event; performs its effects and returns the I/O action it asks for, if any. */
  function dispatch(event: ListWatchEvent): Io | undefined {
    const context: Context = { now: now(), random, settings };
    const next = transition(state, event, context);
    state = next.state;
    let io: Io | undefined;
    for (const action of next.actions) {
      if (IO_ACTIONS.has(action.type)) {
        if (io) throw new Error(`list+watch: two I/O actions at once (${io.type}, ${action.type})`);
        io = action as Io;
      } else {
        effect(action);
      }
    }
    return io;
  }

  /** An event from outside the loop (a timer, an event on the open watch): it must not start I/O of its own. */
  function dispatchExternal(event: ListWatchEvent): void {
    const io = dispatch(event);
    if (io) throw new Error(`list+watch: ${event.type} asked for ${io.type} outside the loop`);
  }

  async function list(): Promise<ListWatchEvent> {
    const next = new Map<string, T>();
    let resourceVersion = '';
    let pages = 0;
    try {
      const pageList = client.list(path, {
        ...selectors,
        metadataOnly: opts.metadataOnly,
        pageSize: opts.pageSize,
        pageTimeoutMs: listTimeoutMs,
        signal: lifetime.signal,
      });
      for await (const page of pageList) {
        if (page.first) {
          next.clear();
          pages = 0;
        }
        for (const item of page.items) {
          const key = keyOf(parseMetadata(item));
          const value = project(item, `unexpected object ${key}`);
          if (value !== undefined) next.set(key, value);
        }
        resourceVersion = page.resourceVersion;
        pages++;
      }
    } catch (error) {
      return { type: 'list-failed', error: withContext(error, `list ${resource}`) };
    }
    items = next;
    generation++;
    deletedSinceList = new Set();
    return { type: 'listed', resourceVersion, size: next.size, pages };
  }

  function parseMetadata(object: unknown): { name: string; namespace?: string | undefined } {
    const parsed = metadataSchema.safeParse(object);
    if (!parsed.success) throw new Error(`unexpected object: ${describeIssues(parsed.error)}`);
    return parsed.data.metadata;
  }

  function project(object: unknown, context: string): T | undefined {
    try {
      return opts.project(object);
    } catch (error) {
      throw new Error(`${context}: ${errorOf(error).message}`);
    }
  }

  /** Applies an ADDED, MODIFIED or DELETED object to the store; returns its resourceVersion. */
  function apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): string | undefined {
    const parsed = metadataSchema.safeParse(object);
    if (!parsed.success) throw new Error(`bad ${type} object: ${describeIssues(parsed.error)}`);
    const key = keyOf(parsed.data.metadata);
    if (type === 'DELETED') {
      items.delete(key);
      deletedSinceList.add(key);
    } else {
      const value = project(object, `bad ${type} object ${key}`);
      if (value === undefined) items.delete(key);
      else items.set(key, value);
      deletedSinceList.delete(key);
    }
    return parsed.data.metadata.resourceVersion;
  }

  /** One watch, until it ends; never leaves its connection open behind it. */
  async function watch(resourceVersion: string, timeoutSeconds: number): Promise<ListWatchEvent> {
    const controller = new AbortController();
    const link = linkedSignal(lifetime.signal, controller.signal);
    currentWatch = controller;
    const startedAt = now();
    let applied = 0;
    let stream: WatchStream | undefined;
    const ended = (end: WatchEnd): ListWatchEvent => ({ type: 'watch-ended', end });
    try {
      stream = await client.watch(path, {
        ...selectors,
        metadataOnly: opts.metadataOnly,
        resourceVersion,
        timeoutSeconds,
        allowWatchBookmarks: true,
        inactivityTimeoutMs: settings.inactivityTimeoutMs,
        signal: link.signal,
      });
      dispatchExternal({ type: 'watch-opened' });
      for await (const event of stream) {
        events[event.type]++;
        report('onEvent', event.type);
        if (event.type === 'ERROR') {
          const s = event.status;
          const detail = `${s.code ?? '?'} ${s.reason ?? ''} ${s.message ?? ''}`.replace(/\s+/g, ' ').trim();
          // https://github.com/kubernetes/apimachinery/blob/master/pkg/api/errors/errors.go (IsResourceExpired, IsGone)
          if (s.code === 410) return ended({ kind: 'expired', detail });
          return ended({ kind: 'error', error: new Error(`watch ${resource}: ERROR event: ${detail}`) });
        }
        const rv = event.type === 'BOOKMARK' ? event.resourceVersion : apply(event.type, event.object);
        applied++;
        dispatchExternal({ type: 'watch-event', resourceVersion: rv });
      }
      return ended({ kind: 'closed', events: applied, durationMs: now() - startedAt });
    } catch (error) {
      if (lifetime.signal.aborted) return ended({ kind: 'stopped' });
      if (error === PERIODIC) return ended({ kind: 'periodic' });
      if (error instanceof WatchInactivityError) {
        return ended({ kind: 'inactivity', error: withContext(error, `watch ${resource}`) });
      }
      if (error instanceof ApiError && error.status === 410) return ended({ kind: 'expired', detail: error.message });
      return ended({ kind: 'error', error: withContext(error, `watch ${resource}`) });
    } finally {
      await stream?.close();
      link.dispose();
      if (currentWatch === controller) currentWatch = undefined;
    }
  }

  async function perform(io: Io): Promise<ListWatchEvent> {
    switch (io.type) {
      case 'list':
        return await list();
      case 'watch':
        return await watch(io.resourceVersion, io.timeoutSeconds);
      case 'sleep':
        try {
          await sleep(io.ms, undefined, { signal: lifetime.signal });
        } catch {
          // stop() during the wait: the state machine is stopped already.
        }
        return { type: 'backoff-done' };
    }
  }

  async function run(): Promise<void> {
    for (let io = dispatch({ type: 'start' }); io; ) io = dispatch(await perform(io));
  }

  return {
    get: (key) => items.get(key),
    entries: () => items.entries(),
    get size() {
      return items.size;
    },
    generation: () => generation,
    fill(key, value, since) {
      if (since !== generation || items.has(key) || deletedSinceList.has(key)) return false;
      items.set(key, value);
      return true;
    },

    status(): ListWatchStatus {
      const size = items.size;
      const r = readiness(state, now(), staleAfterMs);
      if (r.ready) return { ready: true, size };
      const why = r.lastError ? ` (last error: ${r.lastError})` : '';
      if (r.why === 'not-synced') return { ready: false, reason: `${name} has not synced yet${why}`, size };
      const seconds = Math.round(r.silentForMs / 1000);
      return {
        ready: false,
        reason: `${name} is stale: no list, watch event or bookmark for ${seconds} s${why}`,
        size,
      };
    },

    start(): Promise<void> {
      if (started) return started.promise;
      if (lifetime.signal.aborted) return Promise.reject(new Error(`${name} is stopped`));
      started = Promise.withResolvers<void>();
      const { reject } = started;
      lifetime.signal.addEventListener(
        'abort',
        () => reject(new Error(`${name} stopped before the first list completed`)),
        { once: true },
      );
      loop = run().catch((error: unknown) => {
        // A bug in the loop itself: report it, and leave the cache unready rather than crash the process.
        report('onError', errorOf(error), 'watch');
      });
      return started.promise;
    },

    async stop(): Promise<void> {
      dispatchExternal({ type: 'stop' });
      await loop;
    },

    stats: () => ({
      phase: state.phase,
      resourceVersion: state.resourceVersion,
      watchesOpen: state.watchOpen ? 1 : 0,
      events: { ...events },
    }),
    lastHeardAt: () => state.lastHeardAt,
  };
}
