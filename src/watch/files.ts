/**
 * Notices when a set of mounted files changes, the way a ConfigMap or Secret volume changes them: the kubelet writes
 * a new timestamped directory and swaps the `..data` symlink to it with one rename, and the visible files
 * (`config.yaml -> ..data/config.yaml`) never change themselves
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/volume/util/atomic_writer.go). So:
 *
 * - the DIRECTORY of each file is watched (fs.watch), because an inotify watch on the file follows the old inode and
 *   goes quiet after the first swap; events only trigger a (debounced) check, they are never trusted on their own;
 * - the files' CONTENT is also polled every few seconds, because fs.watch misses symlink swaps on some filesystems
 *   and says nothing on others (NFS, some overlay setups);
 * - a change is delivered only once two reads a debounce apart agree, so a read that straddles the swap (a new
 *   certificate with the old key) is never delivered;
 * - each distinct content is delivered once: a rejected file is not re-reported on every poll.
 *
 * No logger, no metrics: the caller decides what a change means.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export interface FileContent {
  path: string;
  /** The bytes, when the file could be read. */
  data?: Buffer | undefined;
  /** Why it could not be read: the errno code (ENOENT…) or the message. */
  error?: string | undefined;
}

/** The files in the order they were asked for. */
export type Snapshot = readonly FileContent[];

export async function readSnapshot(paths: readonly string[]): Promise<Snapshot> {
  return Promise.all(
    paths.map(async (path): Promise<FileContent> => {
      try {
        return { path, data: await readFile(path) };
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        return { path, error: e.code ?? e.message };
      }
    }),
  );
}

/**
 * A FileContent's `error` in words for a message: `not found` for ENOENT (the case operators meet, and grep for), else
 * the errno code or the message as read.
 */
export function describeReadError(error: string | undefined): string {
  if (error === undefined) return 'unreadable';
  return READ_ERRORS[error] ?? error;
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'not found',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
};

/** Identifies a snapshot's content (a missing file counts as content: missing → present is a change). */
function fingerprint(snapshot: Snapshot): string {
  const hash = createHash('sha256');
  for (const file of snapshot) {
    hash.update(`${file.path}\0`);
    if (file.data) hash.update('data\0').update(file.data);
    else hash.update(`error\0${file.error ?? ''}`);
    hash.update('\0');
  }
  return hash.digest('hex');
}

const DEFAULT_POLL_INTERVAL_MS = 5_000;
const DEFAULT_DEBOUNCE_MS = 200;

export interface FileWatchOptions {
  paths: readonly string[];
  /** The content the caller already acted on: only a different content is delivered. */
  baseline: Snapshot;
  /** Called with each new, settled content, one call at a time. A throw or rejection is swallowed. */
  onChange: (snapshot: Snapshot) => void | Promise<void>;
  /** Poll the content this often even without fs events. */
  pollIntervalMs?: number | undefined;
  /** Quiet time after the last fs event before reading, and between the two reads that must agree. */
  debounceMs?: number | undefined;
}

export interface FileWatch {
  /** Reads now (outside the poll schedule) and delivers a change if there is one. */
  check(): Promise<void>;
  close(): void;
}

export function watchFiles(opts: FileWatchOptions): FileWatch {
  const pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let delivered = fingerprint(opts.baseline);
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;
  let debounce: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];

  const wait = (ms: number) => new Promise<void>((done) => setTimeout(done, ms).unref());

  async function checkOnce(): Promise<void> {
    // Settle: read until two reads a debounce apart agree (bounded; the next poll tries again).
    let snapshot = await readSnapshot(opts.paths);
    let print = fingerprint(snapshot);
    if (print === delivered) return;
    for (let attempt = 0; attempt < 5 && !closed; attempt++) {
      await wait(debounceMs);
      const next = await readSnapshot(opts.paths);
      const nextPrint = fingerprint(next);
      if (nextPrint === print) {
        if (closed || print === delivered) return;
        delivered = print;
        try {
          await opts.onChange(snapshot);
        } catch {
          // The caller reports its own failures; a throw must not stop the watch.
        }
        return;
      }
      snapshot = next;
      print = nextPrint;
    }
  }

  /** One check at a time; a request during a check runs one more check after it. */
  function check(): Promise<void> {
    if (closed) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await checkOnce();
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  const schedule = () => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), debounceMs);
    debounce.unref();
  };

  for (const dir of new Set(opts.paths.map((path) => dirname(resolve(path))))) {
    try {
      const watcher = watch(dir, { persistent: false }, schedule);
      // A vanished or unwatchable directory leaves the poll in charge.
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // No such directory (yet), or no inotify: polling alone.
    }
  }
  const poll = setInterval(() => void check(), pollIntervalMs);
  poll.unref();

  return {
    check,
    close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(debounce);
      for (const watcher of watchers) watcher.close();
    },
  };
}
