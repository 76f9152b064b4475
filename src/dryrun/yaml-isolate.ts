/**
 * YAML bodies of `POST /dry-run` are parsed off the event loop, in one worker thread with its own heap limit and a
 * deadline (docs/adr/0008-dry-run-cannot-hurt-mutate.md). YAML costs depend on its shape, not its size: 700 KB of
 * flow mappings needs ~260 MB of heap in the `yaml` package. On the main thread such a body stalled every review and
 * then killed the process; here it ends the worker (out of memory, or terminated at the deadline) and the request
 * gets a coded 413, while /mutate answers as usual. One job runs at a time; the others wait in a short queue.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DnsTunerError, type ErrorCode } from '../errors.ts';
import type { Parsed } from './input.ts';
import type { YamlAnswer, YamlJob } from './yaml-worker.ts';

export interface YamlIsolateOptions {
  /** The worker's old-generation heap, MiB (a typical manifest needs < 5). */
  heapMb?: number | undefined;
  /** Longest a parse may take (a typical manifest takes < 5 ms). */
  timeoutMs?: number | undefined;
  /** Bodies that may wait while one is parsed; more are refused as busy. */
  maxWaiting?: number | undefined;
  /** An idle worker is ended after this long, giving its heap back (dry-runs are rare; reviews are not). */
  idleMs?: number | undefined;
}

/** Longest a fresh worker may take to load its modules (~100 ms here) before the job is given up. */
const BOOT_MS = 10_000;

export const YAML_ISOLATE_DEFAULTS = { heapMb: 48, timeoutMs: 2_000, maxWaiting: 4, idleMs: 30_000 } as const;

export interface YamlIsolate {
  /** The one object of a YAML body, or the coded error (bad YAML, too costly, busy). */
  parse(text: string): Promise<Parsed<unknown>>;
  /** Ends the worker (shutdown). */
  close(): Promise<void>;
}

interface Pending {
  job: YamlJob;
  resolve: (result: Parsed<unknown>) => void;
}

// The worker runs the same source as this module: `.ts` under the tests (Node strips the types), `.js` in dist/.
const WORKER_URL = new URL(`./yaml-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export function createYamlIsolate(options: YamlIsolateOptions = {}): YamlIsolate {
  const heapMb = options.heapMb ?? YAML_ISOLATE_DEFAULTS.heapMb;
  const timeoutMs = options.timeoutMs ?? YAML_ISOLATE_DEFAULTS.timeoutMs;
  const maxWaiting = options.maxWaiting ?? YAML_ISOLATE_DEFAULTS.maxWaiting;
  const idleMs = options.idleMs ?? YAML_ISOLATE_DEFAULTS.idleMs;
  let idle: NodeJS.Timeout | undefined;
  const waiting: Pending[] = [];
  let worker: Worker | undefined;
  /** Whether `worker` has loaded its modules (see YamlAnswer's `ready`). */
  let ready = false;
  let running: (Pending & { timer: NodeJS.Timeout }) | undefined;
  let nextId = 0;
  let closed = false;

  const fail = (code: ErrorCode, ...args: Array<string | number>): Parsed<unknown> => ({
    ok: false,
    error: new DnsTunerError(code, ...args),
  });

  const finish = (result: Parsed<unknown>) => {
    const done = running;
    if (!done) return;
    clearTimeout(done.timer);
    running = undefined;
    done.resolve(result);
    next();
  };

  /** The worker is gone (out of memory, terminated, crashed): the job it had fails, the next one gets a new worker. */
  const lost = (why: string) => {
    worker = undefined;
    finish(fail('DNS_TUNER_YAML_TOO_COSTLY', why));
  };

  const spawn = (): Worker => {
    const w = new Worker(WORKER_URL, {
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 4, stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    // Idle, the worker must not keep a process (or a test run) alive.
    w.unref();
    w.on('message', (answer: YamlAnswer) => {
      if ('ready' in answer) {
        if (worker !== w) return;
        ready = true;
        if (running) {
          clearTimeout(running.timer);
          running.timer = startDeadline(w, false);
        }
        return;
      }
      if (running?.job.id !== answer.id) return;
      if (answer.ok) finish({ ok: true, value: JSON.parse(answer.json) });
      else finish({ ok: false, error: restore(answer.code, answer.message) });
    });
    w.on('error', (error: Error & { code?: string }) => {
      if (worker !== w) return;
      lost(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it needs more than ${heapMb} MiB to parse` : error.message);
    });
    w.on('exit', () => {
      if (worker === w) lost('the parser stopped');
    });
    return w;
  };

  const next = () => {
    if (running || closed) return;
    clearTimeout(idle);
    const pending = waiting.shift();
    if (!pending) {
      const w = worker;
      if (w) {
        idle = setTimeout(() => {
          if (worker !== w || running) return;
          worker = undefined;
          void w.terminate();
        }, idleMs);
        idle.unref();
      }
      return;
    }
    if (!worker) {
      worker = spawn();
      ready = false;
    }
    const w = worker;
    // Until the worker has loaded its modules only a generous boot bound runs; the parse deadline starts at `ready`.
    running = { ...pending, timer: startDeadline(w, !ready) };
    w.postMessage(pending.job);
  };

  const startDeadline = (w: Worker, booting: boolean) =>
    setTimeout(
      () => {
        // terminate() stops the parse where it is; its exit is not the next job's business.
        worker = undefined;
        void w.terminate();
        if (booting) finish(fail('DNS_TUNER_DRY_RUN_BUSY', 'the parser did not start'));
        else finish(fail('DNS_TUNER_YAML_TOO_COSTLY', `it takes more than ${timeoutMs} ms to parse`));
      },
      booting ? BOOT_MS : timeoutMs,
    );

  return {
    parse(text) {
      if (closed) return Promise.resolve(fail('DNS_TUNER_DRY_RUN_BUSY', 'the server is shutting down'));
      if (waiting.length >= maxWaiting) {
        return Promise.resolve(fail('DNS_TUNER_DRY_RUN_BUSY', `${waiting.length + 1} YAML bodies are being parsed`));
      }
      return new Promise((resolve) => {
        waiting.push({ job: { id: nextId++, text }, resolve });
        next();
      });
    },
    async close() {
      closed = true;
      clearTimeout(idle);
      for (const pending of waiting.splice(0)) pending.resolve(fail('DNS_TUNER_DRY_RUN_BUSY', 'the server stopped'));
      const w = worker;
      worker = undefined;
      finish(fail('DNS_TUNER_DRY_RUN_BUSY', 'the server stopped'));
      await w?.terminate();
    },
  };
}

/** A coded error that crossed the thread boundary (only data crosses: the class is rebuilt here). */
function restore(code: string, message: string): DnsTunerError {
  const error = new DnsTunerError(code as ErrorCode);
  Object.defineProperty(error, 'message', { value: message });
  return error;
}
