/**
 * Child processes for the tests (and the soak) that run a program the way it ships: `node dist/main.js`, the CLI, a
 * helper script. Output is collected as it arrives; waits are bounded and, when they fail, say what the child printed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ROOT } from './paths.ts';
import type { Json } from './review.ts';

/** The built server (`npm run build`). */
export const MAIN = join(ROOT, 'dist', 'main.js');

/** Throws, saying how to build it, unless `path` (something under dist/) exists. Returns `path`. */
export function requireBuilt(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` (npm test does it in pretest)`);
  return path;
}

/** How long a wait for a child's output lasts before it fails. */
const WAIT_MS = 15_000;

/** Flags that make dns-tuner listen on loopback, both ports picked by the kernel (the `listening` line names them). */
export function loopbackPorts(drainSeconds = 0): string[] {
  return ['--host', '127.0.0.1', '--port', '0', '--ops-port', '0', '--drain-delay', String(drainSeconds)];
}

/**
 * This process's environment without any dns-tuner setting or cluster access of the person running the tests
 * (DNS_TUNER_*, KUBECONFIG, KUBERNETES_SERVICE_*, …), then `set` on top: `{ HOME: dir }` so that no ~/.kube/config is
 * found, `{ KUBECONFIG: … }` to point at a fake API server.
 */
export function isolatedEnv(set: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('DNS_TUNER_') || key.startsWith('KUBE')) delete env[key];
  return { ...env, ...set };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeRun {
  child: ChildProcess;
  /** All the child wrote to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** The JSON lines on stdout so far (the server's log). */
  logLines(): Json[];
  /** Settles once the child has exited and its output has been read to the end. */
  exit: Promise<Exit>;
  /** SIGKILL unless it has exited already, then waits for the exit (cleanup; idempotent). */
  stop(): Promise<Exit>;
}

export interface SpawnOptions {
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string;
  /** SIGKILL after this long, so a hung child cannot hang the test. */
  killAfterMs?: number;
}

/** Runs `script` with the Node that runs the tests, from the repository root. */
export function spawnNode(script: string, args: string[], options: SpawnOptions = {}): NodeRun {
  // process.execPath is the Node 24 that runs vitest (npm scripts put node_modules/.bin/node first on PATH).
  return spawnCommand(process.execPath, [script, ...args], options);
}

/**
 * Runs package.json's `start` script as npm runs it (`sh -c`, that Node first on PATH) with `args` appended, as
 * `npm start -- ARGS` appends them — without its `prestart` (the tests build once, and bring their own certificates).
 */
export function spawnStartScript(args: string[], options: SpawnOptions = {}): NodeRun {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const env = options.env ?? process.env;
  const path = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`;
  return spawnCommand('sh', ['-c', `exec env ${pkg.scripts.start} "$@"`, 'npm-start', ...args], {
    ...options,
    env: { ...env, PATH: path },
  });
}

function spawnCommand(file: string, argv: string[], options: SpawnOptions): NodeRun {
  const child = spawn(file, argv, {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const timer =
    options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  // 'close', not 'exit': by then stdout and stderr are read to the end.
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => clearTimeout(timer));
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  const stdout = () => out;
  return {
    child,
    stdout,
    stderr: () => err,
    logLines: () =>
      stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Json),
    exit,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exit;
    },
  };
}

/** Polls `probe` until it returns a value; fails, with the child's output, once the child exits or `ms` pass. */
export async function waitFor<T>(run: NodeRun, what: string, probe: () => T | undefined, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  let exited = false;
  const ended = () => {
    exited = true;
  };
  void run.exit.then(ended, ended);
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (exited || Date.now() > deadline) {
      throw new Error(`${what} did not happen; stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The first log line with this `msg` (e.g. `listening`, which carries `port` and `opsPort`). */
export function waitForLog(run: NodeRun, msg: string): Promise<Json> {
  return waitFor(run, `the "${msg}" log line`, () => run.logLines().find((l) => l.msg === msg));
}
