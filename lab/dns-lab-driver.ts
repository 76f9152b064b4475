/**
 * Runs INSIDE `unshare -mn` (started by ./dns-lab.ts): sets up loopback, one dnsmasq per nameserver IP, the bind
 * mounts and optional packet drops, performs the lookups one by one, then prints a DriverOutput JSON on stdout.
 *
 * After each lookup it sends a marker query to every reachable server and waits for the reply: dnsmasq handles
 * queries in arrival order, so everything logged before the marker belongs to that lookup.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DriverInput, DriverOutput, LabLookup, LabQuery } from './dns-lab.ts';

const execFileAsync = promisify(execFile);
const MARKER_DOMAIN = 'dns-lab-marker.invalid';

function dnsQuery(name: string, id: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4); // one question
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]); // root, type A, class IN
}

/** Sends one A query for `name` to `server` and resolves on its reply (retrying every 200 ms, failing after 5 s). */
function ping(server: string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 0xffff);
    const packet = dnsQuery(name, id);
    const send = () => socket.send(packet, 53, server);
    const retry = setInterval(send, 200);
    const give = setTimeout(() => finish(new Error(`no answer from dnsmasq on ${server} for ${name}`)), 5000);
    const finish = (error?: Error) => {
      clearInterval(retry);
      clearTimeout(give);
      socket.close();
      if (error) reject(error);
      else resolve();
    };
    socket.on('message', (msg) => {
      if (msg.readUInt16BE(0) === id) finish();
    });
    socket.on('error', (error) => finish(error));
    send();
  });
}

function dnsmasqArgs(input: DriverInput, server: string): string[] {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    `--listen-address=${server}`,
    '--port=53',
    '--user=root',
    '--pid-file',
    '--cache-size=0',
    '--log-queries',
    `--log-facility=${logPath(input, server)}`,
    // Unknown names get NXDOMAIN (a REFUSED answer would make musl stop, which is not what a cluster DNS does).
    '--local=/#/',
    '--local=//',
  ];
  for (const record of input.records) {
    const addresses = [record.ipv4, record.ipv6].filter((a) => a !== undefined);
    if (addresses.length > 0) args.push(`--host-record=${record.name},${addresses.join(',')}`);
    else args.push(`--txt-record=${record.name},no-address`);
  }
  return args;
}

function logPath(input: DriverInput, server: string): string {
  return join(input.dir, `dnsmasq-${server}.log`);
}

interface Answer {
  addresses: string[];
  error?: string | undefined;
  crashed?: string | undefined;
}

const GLIBC_WORKER = fileURLToPath(new URL('./glibc-lookup.ts', import.meta.url));

/** The glibc lookups run in a child (./glibc-lookup.ts), restarted when glibc aborts it. */
class GlibcWorker {
  private child: ChildProcess | undefined;
  private pending: ((answer: Answer) => void) | undefined;

  private start(): ChildProcess {
    const child = spawn(process.execPath, [GLIBC_WORKER], { stdio: ['pipe', 'pipe', 'ignore'] });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const settle = this.pending;
      this.pending = undefined;
      settle?.(JSON.parse(line) as Answer);
    });
    child.on('exit', (code, signal) => {
      this.child = undefined;
      const settle = this.pending;
      this.pending = undefined;
      settle?.({ addresses: [], error: `glibc process died (${signal ?? code})`, crashed: signal ?? String(code) });
    });
    return child;
  }

  lookup(family: number, name: string): Promise<Answer> {
    this.child ??= this.start();
    const child = this.child;
    return new Promise((resolve) => {
      this.pending = resolve;
      child.stdin!.write(`${family} ${name}\n`);
    });
  }

  close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    return child === undefined ? Promise.resolve() : stop([child]);
  }
}

async function lookup(input: DriverInput, glibc: GlibcWorker, l: LabLookup): Promise<Answer> {
  const family = l.family === 'ipv4' ? 4 : 0;
  if (l.resolver === 'glibc') return glibc.lookup(family, l.name);
  const args = family === 4 ? ['-4', l.name] : [l.name];
  try {
    const { stdout } = await execFileAsync(input.musl, args, { timeout: 120_000 });
    const line = stdout.trim();
    if (line.startsWith('OK')) return { addresses: line.split(' ').slice(1) };
    return { addresses: [], error: line };
  } catch (error) {
    const e = error as { signal?: string; code?: number; message: string };
    return { addresses: [], error: `musl process died (${e.signal ?? e.code})`, crashed: e.signal ?? String(e.code) };
  }
}

function parseLog(text: string, server: string, lookups: number): LabQuery[][] {
  const perLookup: LabQuery[][] = Array.from({ length: lookups }, () => []);
  let current = -1; // before the readiness marker
  for (const line of text.split('\n')) {
    const match = /query\[(\w+)\] (\S+) from /.exec(line);
    if (!match) continue;
    const [, type, name] = match as unknown as [string, string, string];
    const lower = name.toLowerCase();
    if (lower === `ready.${MARKER_DOMAIN}`) current = 0;
    else if (lower.endsWith(`.${MARKER_DOMAIN}`)) current = Number(lower.slice(1, lower.indexOf('.'))) + 1;
    else if (current >= 0 && current < lookups) perLookup[current]!.push({ server, type, name: lower });
  }
  return perLookup;
}

/** Packets the DROP rules caught since the last call, per server (the counters are zeroed as they are read). */
function droppedPackets(input: DriverInput): Record<string, number> {
  const listing = execFileSync(input.bin.iptables, ['-L', 'INPUT', '-n', '-v', '-x', '-Z'], { encoding: 'utf8' });
  const dropped: Record<string, number> = {};
  for (const server of input.drop) dropped[server] = 0;
  for (const line of listing.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // pkts bytes target prot opt in out source destination …
    if (fields[2] !== 'DROP' || fields[8] === undefined) continue;
    const server = fields[8].replace(/\/32$/, '');
    if (server in dropped) dropped[server] = (dropped[server] ?? 0) + Number(fields[0]);
  }
  return dropped;
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function main(): Promise<void> {
  const inputPath = process.argv[2];
  if (inputPath === undefined) throw new Error('usage: dns-lab-driver.ts <input.json>');
  const input = JSON.parse(readFileSync(inputPath, 'utf8')) as DriverInput;
  const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });

  run(input.bin.ip, ['link', 'set', 'lo', 'up']);
  for (const server of input.servers) run(input.bin.ip, ['addr', 'add', `${server}/32`, 'dev', 'lo']);

  const children: ChildProcess[] = [];
  const glibc = new GlibcWorker();
  try {
    for (const server of input.servers) {
      const child = spawn(input.bin.dnsmasq, dnsmasqArgs(input, server), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.on('exit', (code) => {
        if (code !== 0 && code !== null) process.stderr.write(`dnsmasq on ${server} exited ${code}: ${stderr}\n`);
      });
      children.push(child);
    }
    await Promise.all(input.servers.map((server) => ping(server, `ready.${MARKER_DOMAIN}`)));

    const files: Array<[string, string]> = [
      ['resolv.conf', input.resolvConf],
      ['nsswitch.conf', 'hosts: dns\n'],
      ['hosts', ''],
    ];
    for (const [name, content] of files) {
      const path = join(input.dir, name);
      writeFileSync(path, content);
      run(input.bin.mount, ['--bind', path, `/etc/${name}`]);
    }
    for (const server of input.drop) {
      run(input.bin.iptables, ['-A', 'INPUT', '-d', server, '-p', 'udp', '--dport', '53', '-j', 'DROP']);
    }
    const reachable = input.servers.filter((s) => !input.drop.includes(s));

    const results: Array<Answer & { elapsedMs: number; dropped: Record<string, number> }> = [];
    for (const [i, l] of input.lookups.entries()) {
      const start = performance.now();
      const result = await lookup(input, glibc, l);
      const elapsedMs = performance.now() - start;
      results.push({ ...result, elapsedMs, dropped: input.drop.length > 0 ? droppedPackets(input) : {} });
      await Promise.all(reachable.map((server) => ping(server, `m${i}.${MARKER_DOMAIN}`)));
    }
    await glibc.close();
    await stop(children);

    const queries = input.lookups.map((): LabQuery[] => []);
    for (const server of input.servers) {
      const perLookup = parseLog(readFileSync(logPath(input, server), 'utf8'), server, input.lookups.length);
      for (const [i, list] of perLookup.entries()) queries[i]!.push(...list);
    }
    const output: DriverOutput = {
      lookups: input.lookups.map((l, i) => {
        const r = results[i]!;
        return {
          resolver: l.resolver,
          name: l.name,
          family: l.family ?? 'any',
          resolved: r.addresses.length > 0,
          addresses: r.addresses,
          error: r.error,
          crashed: r.crashed,
          dropped: r.dropped,
          elapsedMs: Math.round(r.elapsedMs * 10) / 10,
          queries: queries[i]!,
        };
      }),
    };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } finally {
    await glibc.close();
    await stop(children);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
