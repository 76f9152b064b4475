/**
 * The list+watch loop as a state machine: one state object, and `transition(state, event)` → the next state and the
 * actions the driver (./list-watch.ts) performs. Pure — time and randomness come in the context — so every rule
 * below is a row in a unit-test table, no server needed. The rules are client-go's reflector's
 * (https://github.com/kubernetes/client-go/blob/master/tools/cache/reflector.go), with the failure modes a webhook
 * cannot afford to ignore made explicit:
 *
 * - at most one I/O action (list, watch, backoff sleep) is ever in flight: only the event that ends one (listed,
 *   list-failed, watch-ended, backoff-done) or `start` may produce the next, so there is never a second watch;
 * - 410 Gone, as an HTTP status or an ERROR event, means the resourceVersion is gone: relist (after a backoff, so a
 *   server that keeps answering 410 is not hammered);
 * - a failed list or watch backs off with full jitter over min(max, initial × 2^n), n restarting after a quiet spell
 *   (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/);
 * - a watch that hears nothing (the driver's inactivity timeout: a real apiserver sends a BOOKMARK about every
 *   minute, `nextBookmarkTime` in
 *   https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go)
 *   is dead: relist at once; so is one that keeps failing for longer than that bound;
 * - a stream that ends at once with nothing in it is unhealthy (client-go: "very short watch") and backs off;
 * - a periodic full relist (with jitter) bounds the damage of any bug that lets the cache drift.
 */

export type Phase = 'idle' | 'listing' | 'watching' | 'backing-off' | 'stopped';
export type RelistReason = 'initial' | 'expired' | 'inactivity' | 'periodic';
/** Why a watch ended and another one (possibly after a relist) is being opened; the metrics' label values too. */
export const WATCH_RESTART_REASONS = ['closed', 'error', 'expired', 'inactivity', 'periodic'] as const;
export type WatchRestartReason = (typeof WATCH_RESTART_REASONS)[number];
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ListWatchSettings {
  /** No response, event or bookmark on a watch for this long → relist. */
  inactivityTimeoutMs: number;
  /** `timeoutSeconds` of each watch; undefined → random in [300, 600) like the reflector, to spread reconnects. */
  watchTimeoutSeconds: number | undefined;
  /** Full relist every this long, ± `relistJitter`; 0 disables. */
  relistIntervalMs: number;
  relistJitter: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** The backoff restarts from `backoffInitialMs` once this long has passed since the previous one. */
  backoffResetMs: number;
  /** A stream that ends sooner than this with no event in it is unhealthy. */
  shortWatchMs: number;
}

export interface ListWatchState {
  readonly phase: Phase;
  /** The relist owed before the next watch, and why; kept until a list completes (a failed one is retried). */
  readonly relist: RelistReason | undefined;
  /** Where the next watch starts: the last list's, event's or bookmark's. */
  readonly resourceVersion: string | undefined;
  /** A full list has completed once. */
  readonly synced: boolean;
  /** The server accepted the current watch and it has not ended yet. */
  readonly watchOpen: boolean;
  readonly backoffAttempt: number;
  readonly lastBackoffAt: number;
  /** Epoch ms of the last completed list, event or bookmark. */
  readonly lastHeardAt: number | undefined;
  /** The same, or a watch the server accepted: the proof of freshness readiness and staleness go by. */
  readonly lastActivityAt: number | undefined;
  readonly lastError: string | undefined;
}

export interface WatchSummary {
  /** Events applied from the stream (ERROR excluded). */
  events: number;
  durationMs: number;
}

export type WatchEnd =
  /** The server ended the stream (its `timeoutSeconds`, or a restart). */
  | ({ kind: 'closed' } & WatchSummary)
  | { kind: 'error'; error: Error }
  | { kind: 'expired'; detail: string }
  /** No response, event or bookmark for the inactivity timeout: the connection is presumed dead. */
  | { kind: 'inactivity'; error: Error }
  /** The driver cut it for the periodic relist. */
  | { kind: 'periodic' }
  | { kind: 'stopped' };

export type ListWatchEvent =
  | { type: 'start' }
  | { type: 'listed'; resourceVersion: string; size: number; pages: number }
  | { type: 'list-failed'; error: Error }
  | { type: 'watch-opened' }
  /** A decoded event that proves the watch alive; `resourceVersion` is the event's object's or the bookmark's. */
  | { type: 'watch-event'; resourceVersion: string | undefined }
  | { type: 'watch-ended'; end: WatchEnd }
  | { type: 'backoff-done' }
  | { type: 'relist-due' }
  | { type: 'stop' };

export type ListWatchAction =
  // I/O: the driver performs it and feeds back the event that ends it.
  | { type: 'list'; reason: RelistReason }
  | { type: 'watch'; resourceVersion: string; timeoutSeconds: number }
  | { type: 'sleep'; ms: number }
  // Effects.
  | { type: 'abort-watch' }
  | { type: 'abort-all' }
  | { type: 'schedule-relist'; ms: number }
  | { type: 'cancel-relist' }
  // Reports (the observer's callbacks).
  | { type: 'relisting'; reason: RelistReason }
  | { type: 'synced'; reason: RelistReason; size: number; resourceVersion: string; pages: number }
  | { type: 'watch-restart'; reason: WatchRestartReason; detail?: string }
  | { type: 'error'; error: Error; phase: 'list' | 'watch' };

export const IO_ACTIONS: ReadonlySet<ListWatchAction['type']> = new Set(['list', 'watch', 'sleep']);

export interface Context {
  now: number;
  random: () => number;
  settings: ListWatchSettings;
}

export interface Transition {
  state: ListWatchState;
  actions: ListWatchAction[];
}

export const initialState: ListWatchState = {
  phase: 'idle',
  relist: undefined,
  resourceVersion: undefined,
  synced: false,
  watchOpen: false,
  backoffAttempt: 0,
  lastBackoffAt: Number.NEGATIVE_INFINITY,
  lastHeardAt: undefined,
  lastActivityAt: undefined,
  lastError: undefined,
};

function list(state: ListWatchState, reason: RelistReason): Transition {
  return {
    state: { ...state, phase: 'listing', relist: reason, watchOpen: false },
    // The periodic timer restarts after the list: one relist per interval, whatever triggered the last one.
    actions: [{ type: 'cancel-relist' }, { type: 'relisting', reason }, { type: 'list', reason }],
  };
}

function watch(state: ListWatchState, ctx: Context): Transition {
  const timeoutSeconds = ctx.settings.watchTimeoutSeconds ?? Math.floor(300 * (1 + ctx.random()));
  return {
    state: { ...state, phase: 'watching', watchOpen: false },
    actions: [{ type: 'watch', resourceVersion: state.resourceVersion ?? '', timeoutSeconds }],
  };
}

function backOff(state: ListWatchState, ctx: Context, reports: ListWatchAction[]): Transition {
  const { backoffInitialMs, backoffMaxMs, backoffResetMs } = ctx.settings;
  const attempt = ctx.now - state.lastBackoffAt >= backoffResetMs ? 0 : state.backoffAttempt;
  const ceiling = Math.min(backoffMaxMs, backoffInitialMs * 2 ** attempt);
  return {
    state: {
      ...state,
      phase: 'backing-off',
      watchOpen: false,
      backoffAttempt: Math.min(attempt + 1, 30),
      lastBackoffAt: ctx.now,
    },
    actions: [...reports, { type: 'sleep', ms: Math.floor(ctx.random() * ceiling) }],
  };
}

/** Ready for the next watch: unless a relist is owed, or nothing has proved the stream alive for too long. */
function proceed(state: ListWatchState, ctx: Context): Transition {
  const silentFor = state.lastActivityAt === undefined ? 0 : ctx.now - state.lastActivityAt;
  const reason = state.relist ?? (silentFor > ctx.settings.inactivityTimeoutMs ? 'inactivity' : undefined);
  return reason ? list(state, reason) : watch(state, ctx);
}

function withReports(t: Transition, reports: ListWatchAction[]): Transition {
  return { state: t.state, actions: [...reports, ...t.actions] };
}

function watchEnded(state: ListWatchState, end: WatchEnd, ctx: Context): Transition {
  const s: ListWatchState = { ...state, watchOpen: false };
  switch (end.kind) {
    case 'closed': {
      const healthy = end.events > 0 || end.durationMs >= ctx.settings.shortWatchMs;
      const reports: ListWatchAction[] = [{ type: 'watch-restart', reason: 'closed' }];
      return healthy ? withReports(proceed(s, ctx), reports) : backOff(s, ctx, reports);
    }
    case 'error':
      return backOff({ ...s, lastError: end.error.message }, ctx, [
        { type: 'error', error: end.error, phase: 'watch' },
        { type: 'watch-restart', reason: 'error', detail: end.error.message },
      ]);
    case 'expired':
      // Relisting at once after a 410 is what the reflector does, but not in a tight loop.
      return backOff({ ...s, relist: 'expired' }, ctx, [
        { type: 'watch-restart', reason: 'expired', detail: end.detail },
      ]);
    case 'inactivity':
      return withReports(list({ ...s, lastError: end.error.message }, 'inactivity'), [
        { type: 'error', error: end.error, phase: 'watch' },
        { type: 'watch-restart', reason: 'inactivity' },
      ]);
    case 'periodic':
      return withReports(list(s, state.relist ?? 'periodic'), [{ type: 'watch-restart', reason: 'periodic' }]);
    case 'stopped':
      return { state: { ...s, phase: 'stopped' }, actions: [] };
  }
}

const none = (state: ListWatchState): Transition => ({ state, actions: [] });

export function transition(state: ListWatchState, event: ListWatchEvent, ctx: Context): Transition {
  if (state.phase === 'stopped') {
    // Absorbing: what was in flight when stop() came ends here, and only the watch flag still follows it.
    return none(event.type === 'watch-ended' ? { ...state, watchOpen: false } : state);
  }
  if (event.type === 'stop') {
    return { state: { ...state, phase: 'stopped' }, actions: [{ type: 'cancel-relist' }, { type: 'abort-all' }] };
  }
  switch (state.phase) {
    case 'idle':
      return event.type === 'start' ? list(state, 'initial') : none(state);

    case 'listing':
      if (event.type === 'listed') {
        const reason = state.relist ?? 'initial';
        const { relistIntervalMs, relistJitter } = ctx.settings;
        const s: ListWatchState = {
          ...state,
          relist: undefined,
          resourceVersion: event.resourceVersion,
          synced: true,
          lastHeardAt: ctx.now,
          lastActivityAt: ctx.now,
          lastError: undefined,
        };
        const reports: ListWatchAction[] = [
          { type: 'synced', reason, size: event.size, resourceVersion: event.resourceVersion, pages: event.pages },
        ];
        if (relistIntervalMs > 0) {
          reports.push({ type: 'schedule-relist', ms: relistIntervalMs * (1 + relistJitter * (2 * ctx.random() - 1)) });
        }
        return withReports(watch(s, ctx), reports);
      }
      if (event.type === 'list-failed') {
        // The same reason is retried: a first list that fails stays 'initial' until it succeeds.
        return backOff({ ...state, lastError: event.error.message }, ctx, [
          { type: 'error', error: event.error, phase: 'list' },
        ]);
      }
      // relist-due cannot come (the timer is cancelled while listing); anything else is stale news.
      return none(state);

    case 'watching':
      switch (event.type) {
        case 'watch-opened':
          return none({ ...state, watchOpen: true, lastActivityAt: ctx.now });
        case 'watch-event':
          return none({
            ...state,
            resourceVersion: event.resourceVersion ?? state.resourceVersion,
            lastHeardAt: ctx.now,
            lastActivityAt: ctx.now,
          });
        case 'relist-due':
          // Owed even if the watch ends on its own before the abort lands.
          return { state: { ...state, relist: state.relist ?? 'periodic' }, actions: [{ type: 'abort-watch' }] };
        case 'watch-ended':
          return watchEnded(state, event.end, ctx);
        default:
          return none(state);
      }

    case 'backing-off':
      if (event.type === 'backoff-done') return proceed(state, ctx);
      // Not worth cutting the backoff short; the relist comes next.
      if (event.type === 'relist-due') return none({ ...state, relist: state.relist ?? 'periodic' });
      return none(state);
  }
}

export type Readiness =
  | { ready: true }
  | { ready: false; why: 'not-synced'; lastError: string | undefined }
  | { ready: false; why: 'stale'; silentForMs: number; lastError: string | undefined };

/** Ready once synced, while something (a list, an accepted watch, an event or a bookmark) came within `staleAfterMs`. */
export function readiness(state: ListWatchState, now: number, staleAfterMs: number): Readiness {
  if (!state.synced) return { ready: false, why: 'not-synced', lastError: state.lastError };
  const silentForMs = now - (state.lastActivityAt ?? 0);
  if (silentForMs > staleAfterMs) return { ready: false, why: 'stale', silentForMs, lastError: state.lastError };
  return { ready: true };
}
