/**
 * Which core does what. On a 2-core machine the load generator competes with the server for CPU; pinned, each side
 * gets a core of its own, every server is measured on the same core under the same conditions, and the server's CPU
 * time per review is not inflated by the client's work on its core. With `taskset` missing or a single core, nothing
 * is pinned and the report says so.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const SERVER_CORE = 1;
const CLIENT_CORE = 0;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const canPin = availableParallelism() >= 2 && hasTaskset();

/** The command that runs `file args` on the server core (`taskset -c 1 file args`), or the command unchanged. */
export function pinned(_side: 'server', file: string, args: string[]): [string, string[]] {
  return canPin ? ['taskset', ['-c', String(SERVER_CORE), file, ...args]] : [file, args];
}

/** Pins this process (the load generator, every thread) to the client core; returns how the run is laid out. */
export function pinLoadGenerator(): string {
  if (!canPin) return 'not pinned (needs 2 cores and taskset): the load generator and the server share the CPU';
  execFileSync('taskset', ['-a', '-p', '-c', String(CLIENT_CORE), String(process.pid)], { stdio: 'ignore' });
  return `server pinned to core ${SERVER_CORE}, load generator (this process) to core ${CLIENT_CORE} (taskset)`;
}
