/**
 * The list+watch loop's rules, driven without a server: each row is a state, an event, and the phase and actions
 * that must follow. A property test then drives random event sequences the way the driver does and checks what
 * must hold whatever happens: never two I/O actions in flight, nothing after stop.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Context,
  IO_ACTIONS,
  initialState,
  type ListWatchAction,
  type ListWatchEvent,
  type ListWatchSettings,
  type ListWatchState,
  type Phase,
  readiness,
  transition,
} from '../../src/kube/list-watch-state.ts';

const settings: ListWatchSettings = {
  inactivityTimeoutMs: 1000,
  watchTimeoutSeconds: undefined,
  relistIntervalMs: 10_000,
  relistJitter: 0.1,
  backoffInitialMs: 100,
  backoffMaxMs: 1000,
  backoffResetMs: 5000,
  shortWatchMs: 1000,
};
const NOW = 100_000;
// random() = 0.5: watch timeout 300 × 1.5 = 450 s, relist in exactly 10 s, backoff half its ceiling.
const ctx = (now = NOW, random = 0.5): Context => ({ now, random: () => random, settings });

/** A state in `phase`, synced at rv "5", last heard just now, plus `overrides`. */
function state(phase: Phase, overrides: Partial<ListWatchState> = {}): ListWatchState {
  return {
    ...initialState,
    phase,
    synced: phase !== 'idle',
    resourceVersion: phase === 'idle' ? undefined : '5',
    lastHeardAt: NOW - 10,
    lastActivityAt: NOW - 10,
    ...overrides,
  };
}

const boom = new Error('boom');
const listAction = (reason: string): ListWatchAction[] => [
  { type: 'cancel-relist' },
  { type: 'relisting', reason } as ListWatchAction,
  { type: 'list', reason } as ListWatchAction,
];
const watch5: ListWatchAction = { type: 'watch', resourceVersion: '5', timeoutSeconds: 450 };
const stopActions: ListWatchAction[] = [{ type: 'cancel-relist' }, { type: 'abort-all' }];

interface Row {
  name: string;
  from: ListWatchState;
  event: ListWatchEvent;
  now?: number;
  phase: Phase;
  actions: ListWatchAction[];
  /** Fields of the next state that must have these values. */
  after?: Partial<ListWatchState>;
}

const rows: Row[] = [
  // idle
  {
    name: 'start lists',
    from: initialState,
    event: { type: 'start' },
    phase: 'listing',
    actions: listAction('initial'),
    after: { relist: 'initial' },
  },
  { name: 'stop before start', from: initialState, event: { type: 'stop' }, phase: 'stopped', actions: stopActions },
  { name: 'a timer before start', from: initialState, event: { type: 'relist-due' }, phase: 'idle', actions: [] },

  // listing
  {
    name: 'the first list completes: synced, relist timer, watch from the list',
    from: state('listing', { synced: false, resourceVersion: undefined, relist: 'initial', lastError: 'x' }),
    event: { type: 'listed', resourceVersion: '5', size: 3, pages: 1 },
    phase: 'watching',
    actions: [
      { type: 'synced', reason: 'initial', size: 3, resourceVersion: '5', pages: 1 },
      { type: 'schedule-relist', ms: 10_000 },
      watch5,
    ],
    after: { synced: true, relist: undefined, lastHeardAt: NOW, lastActivityAt: NOW, lastError: undefined },
  },
  {
    name: 'a relist completes with its reason',
    from: state('listing', { relist: 'expired' }),
    event: { type: 'listed', resourceVersion: '9', size: 0, pages: 2 },
    phase: 'watching',
    actions: [
      { type: 'synced', reason: 'expired', size: 0, resourceVersion: '9', pages: 2 },
      { type: 'schedule-relist', ms: 10_000 },
      { type: 'watch', resourceVersion: '9', timeoutSeconds: 450 },
    ],
  },
  {
    name: 'a failed list backs off and keeps its reason',
    from: state('listing', { synced: false, relist: 'initial' }),
    event: { type: 'list-failed', error: boom },
    phase: 'backing-off',
    actions: [
      { type: 'error', error: boom, phase: 'list' },
      { type: 'sleep', ms: 50 },
    ],
    after: { relist: 'initial', lastError: 'boom', backoffAttempt: 1, lastBackoffAt: NOW },
  },
  {
    name: 'stop while listing',
    from: state('listing'),
    event: { type: 'stop' },
    phase: 'stopped',
    actions: stopActions,
  },

  // watching
  {
    name: 'the server accepts the watch: fresh',
    from: state('watching', { lastActivityAt: NOW - 500 }),
    event: { type: 'watch-opened' },
    phase: 'watching',
    actions: [],
    after: { watchOpen: true, lastActivityAt: NOW, lastHeardAt: NOW - 10 },
  },
  {
    name: 'an event advances the resourceVersion',
    from: state('watching', { watchOpen: true }),
    event: { type: 'watch-event', resourceVersion: '7' },
    phase: 'watching',
    actions: [],
    after: { resourceVersion: '7', lastHeardAt: NOW, lastActivityAt: NOW },
  },
  {
    name: 'an event without a resourceVersion keeps the last one',
    from: state('watching', { watchOpen: true }),
    event: { type: 'watch-event', resourceVersion: undefined },
    phase: 'watching',
    actions: [],
    after: { resourceVersion: '5', lastHeardAt: NOW },
  },
  {
    name: 'the periodic relist cuts the watch',
    from: state('watching', { watchOpen: true }),
    event: { type: 'relist-due' },
    phase: 'watching',
    actions: [{ type: 'abort-watch' }],
    after: { relist: 'periodic' },
  },
  {
    name: 'the server ends a watch that delivered: re-open at once',
    from: state('watching', { watchOpen: true }),
    event: { type: 'watch-ended', end: { kind: 'closed', events: 3, durationMs: 20 } },
    phase: 'watching',
    actions: [{ type: 'watch-restart', reason: 'closed' }, watch5],
    after: { watchOpen: false },
  },
  {
    name: 'a long quiet watch ended by the server is healthy too',
    from: state('watching', { watchOpen: true }),
    event: { type: 'watch-ended', end: { kind: 'closed', events: 0, durationMs: 1000 } },
    phase: 'watching',
    actions: [{ type: 'watch-restart', reason: 'closed' }, watch5],
  },
  {
    name: 'a very short empty watch backs off',
    from: state('watching', { watchOpen: true }),
    event: { type: 'watch-ended', end: { kind: 'closed', events: 0, durationMs: 10 } },
    phase: 'backing-off',
    actions: [
      { type: 'watch-restart', reason: 'closed' },
      { type: 'sleep', ms: 50 },
    ],
  },
  {
    name: 'a watch that ends cleanly while a periodic relist is owed: relist',
    from: state('watching', { relist: 'periodic' }),
    event: { type: 'watch-ended', end: { kind: 'closed', events: 3, durationMs: 20 } },
    phase: 'listing',
    actions: [{ type: 'watch-restart', reason: 'closed' }, ...listAction('periodic')],
  },
  {
    name: 'nothing heard for longer than the inactivity bound: relist instead of re-watching',
    from: state('watching', { lastActivityAt: NOW - 1001 }),
    event: { type: 'watch-ended', end: { kind: 'closed', events: 1, durationMs: 20 } },
    phase: 'listing',
    actions: [{ type: 'watch-restart', reason: 'closed' }, ...listAction('inactivity')],
  },
  {
    name: 'a failed watch backs off',
    from: state('watching', { watchOpen: true }),
    event: { type: 'watch-ended', end: { kind: 'error', error: boom } },
    phase: 'backing-off',
    actions: [
      { type: 'error', error: boom, phase: 'watch' },
      { type: 'watch-restart', reason: 'error', detail: 'boom' },
      { type: 'sleep', ms: 50 },
    ],
    after: { lastError: 'boom', relist: undefined, watchOpen: false },
  },
  {
    name: '410 backs off, then relists',
    from: state('watching', { relist: 'periodic' }),
    event: { type: 'watch-ended', end: { kind: 'expired', detail: '410 Expired' } },
    phase: 'backing-off',
    actions: [
      { type: 'watch-restart', reason: 'expired', detail: '410 Expired' },
      { type: 'sleep', ms: 50 },
    ],
    after: { relist: 'expired' },
  },
  {
    name: 'a silent watch relists at once',
    from: state('watching'),
    event: { type: 'watch-ended', end: { kind: 'inactivity', error: boom } },
    phase: 'listing',
    actions: [
      { type: 'error', error: boom, phase: 'watch' },
      { type: 'watch-restart', reason: 'inactivity' },
      ...listAction('inactivity'),
    ],
    after: { lastError: 'boom' },
  },
  {
    name: 'the watch cut for the periodic relist: relist',
    from: state('watching', { relist: 'periodic' }),
    event: { type: 'watch-ended', end: { kind: 'periodic' } },
    phase: 'listing',
    actions: [{ type: 'watch-restart', reason: 'periodic' }, ...listAction('periodic')],
  },
  {
    name: 'stop while watching',
    from: state('watching', { watchOpen: true }),
    event: { type: 'stop' },
    phase: 'stopped',
    actions: stopActions,
  },

  // backing-off
  {
    name: 'after the backoff, the owed relist',
    from: state('backing-off', { relist: 'expired' }),
    event: { type: 'backoff-done' },
    phase: 'listing',
    actions: listAction('expired'),
  },
  {
    name: 'after the backoff, a watch from where it stopped',
    from: state('backing-off'),
    event: { type: 'backoff-done' },
    phase: 'watching',
    actions: [watch5],
  },
  {
    name: 'after a backoff longer than the inactivity bound: relist',
    from: state('backing-off', { lastActivityAt: NOW - 2000 }),
    event: { type: 'backoff-done' },
    phase: 'listing',
    actions: listAction('inactivity'),
  },
  {
    name: 'the periodic relist waits for the backoff',
    from: state('backing-off'),
    event: { type: 'relist-due' },
    phase: 'backing-off',
    actions: [],
    after: { relist: 'periodic' },
  },
  {
    name: 'stop while backing off',
    from: state('backing-off'),
    event: { type: 'stop' },
    phase: 'stopped',
    actions: stopActions,
  },

  // stopped
  {
    name: 'the watch in flight at stop ends: only the flag follows',
    from: state('stopped', { watchOpen: true }),
    event: { type: 'watch-ended', end: { kind: 'stopped' } },
    phase: 'stopped',
    actions: [],
    after: { watchOpen: false },
  },
  {
    name: 'a list in flight at stop completes: ignored',
    from: state('stopped'),
    event: { type: 'listed', resourceVersion: '9', size: 1, pages: 1 },
    phase: 'stopped',
    actions: [],
    after: { resourceVersion: '5' },
  },
  { name: 'no restart after stop', from: state('stopped'), event: { type: 'start' }, phase: 'stopped', actions: [] },
  {
    name: 'no watch after a stopped backoff',
    from: state('stopped'),
    event: { type: 'backoff-done' },
    phase: 'stopped',
    actions: [],
  },
];

describe('list+watch state machine: transitions', () => {
  it.each(rows)('$from.phase + $event.type: $name', (row) => {
    const before = structuredClone(row.from);
    const next = transition(row.from, row.event, ctx(row.now));
    expect(next.state.phase).toBe(row.phase);
    expect(next.actions).toEqual(row.actions);
    if (row.after) expect(next.state).toMatchObject(row.after);
    // Pure: the input state is left as it was.
    expect(row.from).toEqual(before);
  });

  it('covers every phase with every event that can reach it', () => {
    const covered = new Set(rows.map((r) => `${r.from.phase}:${r.event.type}`));
    for (const needed of [
      'idle:start',
      'listing:listed',
      'listing:list-failed',
      'watching:watch-opened',
      'watching:watch-event',
      'watching:relist-due',
      'watching:watch-ended',
      'backing-off:backoff-done',
      'backing-off:relist-due',
      'idle:stop',
      'listing:stop',
      'watching:stop',
      'backing-off:stop',
      'stopped:watch-ended',
    ]) {
      expect(covered, needed).toContain(needed);
    }
  });

  it('backs off exponentially with full jitter, capped, and starts over after a quiet spell', () => {
    let s = state('listing', { relist: 'initial' });
    const sleeps: number[] = [];
    let now = NOW;
    const fail = (at: number) => {
      // random() just under 1: each sleep shows its ceiling.
      const t = transition(s, { type: 'list-failed', error: boom }, ctx(at, 0.9999));
      const sleep = t.actions.at(-1);
      if (sleep?.type !== 'sleep') throw new Error(`no sleep in ${JSON.stringify(t.actions)}`);
      sleeps.push(sleep.ms);
      s = transition(t.state, { type: 'backoff-done' }, ctx(at)).state;
    };
    for (let i = 0; i < 6; i++) {
      now += 10;
      fail(now);
    }
    expect(sleeps).toEqual([99, 199, 399, 799, 999, 999]);
    fail(now + settings.backoffResetMs);
    expect(sleeps.at(-1)).toBe(99);
    // Full jitter: random() = 0 waits not at all.
    expect(transition(s, { type: 'list-failed', error: boom }, ctx(now, 0)).actions.at(-1)).toEqual({
      type: 'sleep',
      ms: 0,
    });
  });

  it('spreads watch timeouts and relists with the random source, and leaves them fixed when configured', () => {
    const listed: ListWatchEvent = { type: 'listed', resourceVersion: '5', size: 0, pages: 1 };
    const low = transition(state('listing'), listed, ctx(NOW, 0)).actions;
    const high = transition(state('listing'), listed, ctx(NOW, 0.999)).actions;
    expect(low).toContainEqual({ type: 'watch', resourceVersion: '5', timeoutSeconds: 300 });
    expect(low).toContainEqual({ type: 'schedule-relist', ms: 9000 });
    expect(high).toContainEqual({ type: 'watch', resourceVersion: '5', timeoutSeconds: 599 });
    expect(high.find((a) => a.type === 'schedule-relist')).toMatchObject({ ms: expect.closeTo(10_998, 0) });

    const fixed = { ...settings, watchTimeoutSeconds: 60, relistIntervalMs: 0 };
    const actions = transition(state('listing'), listed, { now: NOW, random: () => 0.3, settings: fixed }).actions;
    expect(actions.map((a) => a.type)).toEqual(['synced', 'watch']);
    expect(actions[1]).toEqual({ type: 'watch', resourceVersion: '5', timeoutSeconds: 60 });
  });
});

describe('list+watch state machine: readiness', () => {
  it('is not ready before the first list, ready while fresh, stale after the bound', () => {
    expect(readiness(initialState, NOW, 300)).toEqual({ ready: false, why: 'not-synced', lastError: undefined });
    expect(readiness({ ...initialState, lastError: 'x' }, NOW, 300)).toMatchObject({ lastError: 'x' });
    expect(readiness(state('watching', { lastActivityAt: NOW - 300 }), NOW, 300)).toEqual({ ready: true });
    expect(readiness(state('backing-off', { lastActivityAt: NOW - 301, lastError: 'down' }), NOW, 300)).toEqual({
      ready: false,
      why: 'stale',
      silentForMs: 301,
      lastError: 'down',
    });
  });
});

/**
 * A driver as ./list-watch.ts is: it performs the I/O action the machine asks for and later feeds back the event
 * that ends it; meanwhile timers and the open watch feed events of their own.
 */
describe('list+watch state machine: invariants over any sequence of events', () => {
  type Step =
    | { kind: 'complete'; ok: boolean; events: number; duration: number; end: number }
    | { kind: 'external'; event: 'watch-opened' | 'watch-event' | 'relist-due' | 'stop' }
    | { kind: 'advance'; ms: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('complete' as const),
      ok: fc.boolean(),
      events: fc.nat(3),
      duration: fc.nat(2000),
      end: fc.nat(4),
    }),
    fc.record({
      kind: fc.constant('external' as const),
      event: fc.constantFrom('watch-opened' as const, 'watch-event' as const, 'relist-due' as const, 'stop' as const),
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(3000) }),
  );

  it('never has two I/O actions in flight, asks for none from outside the loop, and does nothing after stop', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (steps, r) => {
        let now = NOW;
        let s = initialState;
        let inFlight: ListWatchAction | undefined;
        let stopped = false;
        const apply = (event: ListWatchEvent, fromLoop: boolean) => {
          const t = transition(s, event, { now, random: () => r, settings });
          const io = t.actions.filter((a) => IO_ACTIONS.has(a.type));
          expect(io.length).toBeLessThanOrEqual(1);
          if (!fromLoop) expect(io, `${event.type} from outside the loop`).toEqual([]);
          if (stopped) expect(t.actions).toEqual([]);
          if (event.type === 'stop' && !stopped) expect(t.actions).toContainEqual({ type: 'abort-all' });
          if (io[0]) {
            expect(inFlight, 'an I/O action while another is in flight').toBeUndefined();
            inFlight = io[0];
          }
          // Each phase goes with the I/O in flight.
          const expected = { list: 'listing', watch: 'watching', sleep: 'backing-off' } as const;
          if (!t.state.phase.match(/stopped|idle/) && inFlight) {
            expect(t.state.phase).toBe(expected[inFlight.type as keyof typeof expected]);
          }
          if (t.state.phase === 'stopped') stopped = true;
          s = t.state;
        };
        apply({ type: 'start' }, true);
        for (const st of steps) {
          if (st.kind === 'advance') now += st.ms;
          else if (st.kind === 'external') {
            apply(
              st.event === 'watch-event' ? { type: st.event, resourceVersion: String(now) } : { type: st.event },
              false,
            );
          } else if (inFlight) {
            const done = inFlight;
            inFlight = undefined;
            const ends = [
              { kind: 'closed', events: st.events, durationMs: st.duration },
              { kind: 'error', error: boom },
              { kind: 'expired', detail: '410' },
              { kind: 'inactivity', error: boom },
              { kind: 'periodic' },
            ] as const;
            if (done.type === 'list') {
              apply(
                st.ok
                  ? { type: 'listed', resourceVersion: String(now), size: 1, pages: 1 }
                  : { type: 'list-failed', error: boom },
                true,
              );
            } else if (done.type === 'watch') {
              apply({ type: 'watch-ended', end: stopped ? { kind: 'stopped' } : ends[st.end]! }, true);
            } else {
              apply({ type: 'backoff-done' }, true);
            }
          }
        }
        // A loop that has not been stopped always has something in flight: it never stalls.
        if (!stopped) expect(inFlight).toBeDefined();
        expect(s.watchOpen && s.phase !== 'watching' && s.phase !== 'stopped').toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
