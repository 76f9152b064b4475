/**
 * The servers under test, each a child process running bench/server.ts, driven over IPC: start one as `ours` or as
 * `the limit`, read its CPU time and memory, set the limit's constant answer, stop it. A child that fails or exits on
 * its own ends the benchmark: its numbers would be meaningless.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_CONFIG, ROOT } from '../../lab/paths.ts';
import type { Pem } from '../../lab/pki.ts';
import type { FromChild, Role, ToChild, Usage } from '../server.ts';

/**
 * Compiles bench/server.ts and the sources it imports to JavaScript with the project's own compiler settings, as the
 * container image runs dist/: Node's type stripping would load its TypeScript transformer into the server process
 * and add ~17 MiB of RSS that production does not have. Returns the compiled server's path.
 */
export function compileServer(): { entry: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dns-tuner-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const out = join(dir, 'out');
    mkdirSync(out);
    // Bare imports (fastify, pino…) resolve from the project's node_modules; .js files are ES modules.
    symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
    writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
    const tsconfig = {
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { noEmit: false, noCheck: true, types: [], rootDir: ROOT, outDir: out, sourceMap: false },
      include: [],
      files: [join(ROOT, 'bench/server.ts')],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
    return { entry: join(out, 'bench/server.js'), cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

export class BenchServer {
  readonly role: Role;
  readonly child: ChildProcess;
  port = 0;
  /** Set once we asked it to stop: its exit is then expected. */
  private stopping = false;
  private waiting: Array<{ type: FromChild['type']; resolve: (m: FromChild) => void }> = [];

  constructor(role: Role, entry: string, execArgv: string[]) {
    this.role = role;
    this.child = fork(entry, [], {
      execArgv,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: FromChild) => {
      if (message.type === 'error') {
        process.stderr.write(`bench server (${role}) failed: ${message.message}\n`);
        process.exit(1);
      }
      const index = this.waiting.findIndex((w) => w.type === message.type);
      if (index === -1) return;
      const [waiter] = this.waiting.splice(index, 1);
      waiter?.resolve(message);
    });
    this.child.on('exit', (code, signal) => {
      if (!this.stopping) {
        process.stderr.write(`bench server (${role}) exited unexpectedly: ${code ?? signal}\n`);
        process.exit(1);
      }
    });
  }

  /** Starts serving with `pem` (ours: the example config and `namespaces` cached); resolves once it listens. */
  async listen(pem: Pem, namespaces: number): Promise<void> {
    const ready = await this.call(
      { type: 'start', role: this.role, cert: pem.cert, key: pem.key, namespaces, config: EXAMPLE_CONFIG },
      'ready',
    );
    this.port = (ready as { port: number }).port;
  }

  private call(message: ToChild, reply: FromChild['type']): Promise<FromChild> {
    return new Promise((resolve) => {
      this.waiting.push({ type: reply, resolve });
      this.child.send(message);
    });
  }

  async usage(gc = false): Promise<Usage> {
    const { type: _type, ...usage } = (await this.call({ type: 'usage', gc }, 'usage')) as { type: 'usage' } & Usage;
    return usage;
  }

  async respond(body: string): Promise<void> {
    await this.call({ type: 'respond', body }, 'ok');
  }

  /** Current RSS from /proc, without disturbing the server. */
  rssNow(): number {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      return kb === undefined ? 0 : Number(kb) * 1024;
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies ToChild);
    await exited;
  }
}

/** The running servers, all started from one compiled entry with the same Node.js flags, so none is left behind. */
export class ChildServers {
  private readonly running = new Set<BenchServer>();
  private readonly entry: string;
  private readonly execArgv: string[];

  constructor(entry: string, execArgv: string[]) {
    this.entry = entry;
    this.execArgv = execArgv;
  }

  async start(role: Role, pem: Pem, namespaces = 0): Promise<BenchServer> {
    const server = new BenchServer(role, this.entry, this.execArgv);
    this.running.add(server);
    await server.listen(pem, namespaces);
    return server;
  }

  async stop(server: BenchServer): Promise<void> {
    await server.stop();
    this.running.delete(server);
  }

  /** Cleanup on the way out (Ctrl-C, an error): SIGTERM to every server still running. */
  killAll(): void {
    for (const server of this.running) server.child.kill();
  }
}
