/**
 * The servers under test, each its own process pinned to the server core (./pinning.ts), all with the Deployment's
 * Node flags (NODE_OPTIONS of manifests/base/deployment.yaml):
 *
 *   ours   dns-tuner as the image runs it: `node dist/main.js` (the production composition root, src/server/start.ts:
 *          the onSend close hook, the ops app, config and certificate watchers, metrics with process metrics) with the
 *          example config, a certificate in files, namespaces from list+watch against the fake Kubernetes API
 *          (./cluster.ts), and its JSON log — one line per review — on a pipe this process reads and counts.
 *   job    the job's limit (../limit-server.ts), same certificate and server options.
 *   bare   the bare limit (../limit-server.ts).
 *
 * CPU time is read from /proc for every process alike (the sum of its threads' run time: the main thread, GC and
 * libuv helpers), memory from /proc/<pid>/status (VmRSS now, VmHWM the peak since start).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deploymentNodeOptions } from '../../lab/deployment.ts';
import { ROOT, SERVICE_NAME } from '../../lab/paths.ts';
import type { Pem } from '../../lab/pki.ts';
import { isolatedEnv, MAIN } from '../../lab/process.ts';
import { connectionTimeoutMs, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUTS, MUTATE_PATH } from '../../src/http/webhook-app.ts';
import type { FromLimit, LimitRole, LimitServerOptions, ToLimit } from '../limit-server.ts';
import { pinned } from './pinning.ts';

export type Role = 'ours' | LimitRole;

export const ROLE_LABEL: Record<Role, string> = { ours: 'dns-tuner', job: 'job limit', bare: 'bare limit' };

export interface Usage {
  /** CPU time of all the process's threads since it started, µs. */
  cpuUs: number;
  rss: number;
  /** Peak RSS since the process started (VmHWM). */
  hwm: number;
}

/** CPU time of every thread of `pid` (schedstat: nanoseconds on the CPU), µs. */
function cpuTimeUs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1000;
}

function statusKb(pid: number, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

export interface BenchServer {
  readonly role: Role;
  /** `dns-tuner`, `job limit`… (with the build for a baseline: `dns-tuner@abc123`). */
  readonly label: string;
  readonly port: number;
  readonly pid: number;
  usage(): Usage;
  rssNow(): number;
  /** Lines dns-tuner wrote to its log so far (one per review in steady state); limits: undefined. */
  logLines(): number | undefined;
  /** Bare limit only: the constant answer. */
  respond(body: string): Promise<void>;
  /** Ends the process (dns-tuner: SIGINT, as Ctrl-C: no drain) and waits for it; profiles are written on the way. */
  stop(): Promise<void>;
}

abstract class ProcessServer {
  abstract readonly child: ChildProcess;
  protected stopping = false;

  get pid(): number {
    return this.child.pid ?? 0;
  }

  usage(): Usage {
    return { cpuUs: cpuTimeUs(this.pid), rss: statusKb(this.pid, 'VmRSS'), hwm: statusKb(this.pid, 'VmHWM') };
  }

  rssNow(): number {
    return statusKb(this.pid, 'VmRSS');
  }

  /** What the process printed on stderr, for when it ends unexpectedly. */
  protected output(): string {
    return '';
  }

  protected watchExit(label: string): void {
    this.child.on('exit', (code, signal) => {
      if (!this.stopping) {
        process.stderr.write(`bench server (${label}) exited unexpectedly: ${code ?? signal}\n${this.output()}\n`);
        process.exit(1);
      }
    });
  }

  protected exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

/** What `ours` needs besides the certificate: the built entry point and the cluster it watches. */
export interface OursSetup {
  /** dist/main.js of the build under test (this checkout's, or a baseline's). */
  main: string;
  /** A label suffix for a baseline build (`@abc123`), '' for this checkout. */
  build: string;
  kubeconfig: string;
  config: string;
  /** Extra command-line flags (later flags win: `--log-level warn` turns the review line off, for an experiment). */
  args?: string[] | undefined;
}

class Ours extends ProcessServer implements BenchServer {
  readonly role = 'ours' as const;
  readonly label: string;
  readonly child: ChildProcess;
  port = 0;
  private lines = 0;
  private stdout = '';
  private stderr = '';

  constructor(setup: OursSetup, files: { cert: string; key: string }, nodeOptions: string, execArgv: string[]) {
    super();
    this.label = `${ROLE_LABEL.ours}${setup.build}`;
    const args = [
      ...execArgv,
      setup.main,
      '--config',
      setup.config,
      '--tls-cert',
      files.cert,
      '--tls-key',
      files.key,
      '--kubeconfig',
      setup.kubeconfig,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--ops-port',
      '0',
      '--drain-delay',
      '0',
      '--log-level',
      'info',
      ...(setup.args ?? []),
    ];
    const [file, argv] = pinned('server', process.execPath, args);
    this.child = spawn(file, argv, {
      cwd: ROOT,
      env: isolatedEnv({ NODE_OPTIONS: nodeOptions }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.watchExit(this.label);
    // The log goes to a pipe, as a container's stdout does; only the first lines are kept (start-up), the rest counted.
    this.child.stdout?.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) this.lines++;
      if (this.stdout.length < 64 * 1024) this.stdout += chunk.toString();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 64 * 1024) this.stderr += chunk.toString();
    });
  }

  /**
   * Resolves once the webhook listens and /readyz says ready (the namespace cache has synced). The ports come from
   * the banner on stderr, which every log level prints.
   */
  async ready(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const webhook = /webhook\s+https:\/\/[^\s]*:(\d+)\//.exec(this.stderr)?.[1];
      const ops = /ops\s+http:\/\/[^\s]*:(\d+)\//.exec(this.stderr)?.[1];
      if (webhook !== undefined && ops !== undefined) {
        const ready = await fetch(`http://127.0.0.1:${ops}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ready) {
          this.port = Number(webhook);
          return;
        }
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${this.label} did not start:\n${this.stdout}\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  logLines(): number {
    return this.lines;
  }

  protected override output(): string {
    return this.stderr;
  }

  async respond(): Promise<void> {
    throw new Error('dns-tuner has no constant answer');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.child.kill('SIGINT');
    await this.exited();
  }
}

class Limit extends ProcessServer implements BenchServer {
  readonly role: LimitRole;
  readonly label: string;
  readonly child: ChildProcess;
  port = 0;
  private waiting: Array<{ type: FromLimit['type']; resolve: (m: FromLimit) => void }> = [];

  constructor(role: LimitRole, entry: string, nodeOptions: string, execArgv: string[]) {
    super();
    this.role = role;
    this.label = ROLE_LABEL[role];
    const [file, argv] = pinned('server', process.execPath, [...execArgv, entry]);
    this.child = spawn(file, argv, {
      env: isolatedEnv({ NODE_OPTIONS: nodeOptions }),
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.watchExit(this.label);
    this.child.on('message', (message: FromLimit) => {
      if (message.type === 'error') {
        process.stderr.write(`bench server (${this.label}) failed: ${message.message}\n`);
        process.exit(1);
      }
      const index = this.waiting.findIndex((w) => w.type === message.type);
      if (index === -1) return;
      const [waiter] = this.waiting.splice(index, 1);
      waiter?.resolve(message);
    });
  }

  private call(message: ToLimit, reply: FromLimit['type']): Promise<FromLimit> {
    return new Promise((resolve) => {
      this.waiting.push({ type: reply, resolve });
      this.child.send(message);
    });
  }

  async listen(pem: Pem, namespaces: number): Promise<void> {
    const options: LimitServerOptions = {
      headersTimeout: DEFAULT_TIMEOUTS.headersMs,
      requestTimeout: DEFAULT_TIMEOUTS.requestMs,
      keepAliveTimeout: DEFAULT_TIMEOUTS.keepAliveMs,
      connectionTimeout: connectionTimeoutMs(DEFAULT_TIMEOUTS),
      handshakeTimeout: DEFAULT_TIMEOUTS.handshakeMs,
      connectionsCheckingInterval: DEFAULT_TIMEOUTS.connectionsCheckingIntervalMs,
      bodyLimit: DEFAULT_BODY_LIMIT,
      minVersion: 'TLSv1.2',
    };
    const ready = await this.call(
      { type: 'start', role: this.role, cert: pem.cert, key: pem.key, options, namespaces },
      'ready',
    );
    this.port = (ready as { port: number }).port;
  }

  logLines(): undefined {
    return undefined;
  }

  async respond(body: string): Promise<void> {
    await this.call({ type: 'respond', body }, 'ok');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToLimit);
    else this.child.kill();
    await this.exited();
  }
}

/**
 * Compiles bench/limit-server.ts to JavaScript with the project's compiler settings, as the image runs dist/: Node's
 * type stripping would load its TypeScript transformer into the server and add ~17 MiB of RSS that dns-tuner's dist/
 * does not have. Returns the compiled entry.
 */
function compileLimitServer(dir: string): string {
  const out = join(dir, 'out');
  mkdirSync(out);
  // Bare imports resolve from the project's node_modules; .js files are ES modules.
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  const tsconfig = {
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { noEmit: false, noCheck: true, types: [], rootDir: ROOT, outDir: out, sourceMap: false },
    include: [],
    files: [join(ROOT, 'bench/limit-server.ts')],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
  return join(out, 'bench/limit-server.js');
}

/**
 * Builds `ref` of this repository (git archive, then the project's build) into a temporary directory, for comparing
 * a change with what came before it in one run. Returns the built dist/main.js.
 */
function buildBaseline(ref: string, dir: string): string {
  const tree = join(dir, 'baseline');
  mkdirSync(tree);
  const archive = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', ref], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', tree], { input: archive });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(tree, 'tsconfig.build.json')], {
    cwd: tree,
    stdio: 'inherit',
  });
  const main = join(tree, 'dist/main.js');
  if (!existsSync(main)) throw new Error(`baseline ${ref}: the build wrote no dist/main.js`);
  return main;
}

/**
 * The example config of the build whose entry point is `main` (`<tree>/dist/main.js` → `<tree>/examples/config.yaml`):
 * a past build is measured with the config it shipped with (a later key would be refused by its schema).
 */
export function exampleConfigOf(main: string): string {
  return join(dirname(dirname(main)), 'examples/config.yaml');
}

/** Every server of a benchmark: started from the same certificate and Node flags, all stopped on the way out. */
export class Servers {
  readonly nodeOptions: string;
  private readonly execArgv: string[];
  private readonly dir: string;
  private readonly files: { cert: string; key: string };
  private limitEntry: string | undefined;
  private readonly running = new Set<BenchServer & ProcessServer>();
  private readonly baselines = new Map<string, string>();

  readonly pem: Pem;

  /** `execArgv`: extra Node flags for every server (a CPU profile); `nodeOptions` overrides the Deployment's. */
  constructor(pem: Pem, options: { execArgv?: string[]; nodeOptions?: string | undefined } = {}) {
    this.pem = pem;
    this.nodeOptions = options.nodeOptions ?? deploymentNodeOptions();
    this.execArgv = options.execArgv ?? [];
    this.dir = mkdtempSync(join(tmpdir(), 'dns-tuner-bench-'));
    this.files = { cert: join(this.dir, 'tls.crt'), key: join(this.dir, 'tls.key') };
    writeFileSync(this.files.cert, pem.cert);
    writeFileSync(this.files.key, pem.key, { mode: 0o600 });
    // However the benchmark ends (an uncaught error included), no server outlives it.
    process.once('exit', () => this.killAll());
  }

  /** dist/main.js of `ref` (built once), or of this checkout when `ref` is undefined. */
  main(ref: string | undefined): string {
    if (ref === undefined) {
      if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\``);
      return MAIN;
    }
    let main = this.baselines.get(ref);
    if (main === undefined) {
      main = buildBaseline(ref, mkdtempSync(join(this.dir, 'ref-')));
      this.baselines.set(ref, main);
    }
    return main;
  }

  /** `execArgv`: Node flags for this server only, on top of the common ones (its CPU profile's directory). */
  async startOurs(setup: OursSetup, execArgv: string[] = []): Promise<BenchServer> {
    const server = new Ours(setup, this.files, this.nodeOptions, [...this.execArgv, ...execArgv]);
    this.running.add(server);
    await server.ready();
    return server;
  }

  async startLimit(role: LimitRole, namespaces: number, execArgv: string[] = []): Promise<BenchServer> {
    this.limitEntry ??= compileLimitServer(mkdtempSync(join(this.dir, 'limit-')));
    const server = new Limit(role, this.limitEntry, this.nodeOptions, [...this.execArgv, ...execArgv]);
    this.running.add(server);
    await server.listen(this.pem, namespaces);
    return server;
  }

  async stop(server: BenchServer): Promise<void> {
    await server.stop();
    this.running.delete(server as BenchServer & ProcessServer);
  }

  /** Cleanup on the way out (Ctrl-C, an error): every server still running is killed, the files removed. */
  killAll(): void {
    for (const server of this.running) server.child.kill('SIGKILL');
    this.running.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Where the load generator sends: the server's port, the webhook path, the Service name the certificate is for. */
export function targetOf(server: BenchServer, ca: string) {
  return { port: server.port, path: MUTATE_PATH, ca, servername: SERVICE_NAME };
}
