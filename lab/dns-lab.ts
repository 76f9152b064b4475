/**
 * A real-resolver lab: real glibc (`getaddrinfo` through Node's `dns.lookup`) and real musl (./musl-lookup.c
 * linked with `musl-gcc -static`) resolve names against one dnsmasq per nameserver IP, inside a private network and
 * mount namespace (`unshare -mn`), with a generated /etc/resolv.conf, `hosts: dns` in /etc/nsswitch.conf and an empty
 * /etc/hosts bind-mounted over the real ones. dnsmasq logs every query it receives, so the lab reports exactly which
 * queries reached which nameserver for each lookup. Used by test/resolvers/*.test.ts and the DNS benchmark.
 *
 * Needs root and `apt-get install -y dnsmasq-base musl-tools iptables` (plus iproute2 and util-linux, present on
 * Debian). The work inside the namespace is done by ./dns-lab-driver.ts, one process tree per session.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export type LabResolver = 'glibc' | 'musl';

export interface LabRecord {
  /** Absolute name without trailing dot. */
  name: string;
  /** Omitted: the name exists but has no A/AAAA data (a no-data answer). */
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

export interface LabLookup {
  resolver: LabResolver;
  name: string;
  /** `any` = AF_UNSPEC (default), `ipv4` = AF_INET. */
  family?: 'any' | 'ipv4' | undefined;
}

export interface LabScenario {
  /** The /etc/resolv.conf the resolvers read, verbatim. */
  resolvConf: string;
  /** One dnsmasq is started on each of these IPv4 addresses. */
  servers: string[];
  /** Names that exist on every server; everything else is NXDOMAIN. */
  records: LabRecord[];
  /** Servers whose packets are dropped by an iptables INPUT rule (an outage). */
  drop?: string[] | undefined;
  lookups: LabLookup[];
  /** Kills the whole session after this long (default 60 s). */
  timeoutMs?: number | undefined;
}

export interface LabQuery {
  server: string;
  type: string;
  name: string;
}

export interface LabLookupResult {
  resolver: LabResolver;
  name: string;
  family: 'any' | 'ipv4';
  resolved: boolean;
  addresses: string[];
  /** glibc: the Node error code (ENOTFOUND, EAI_AGAIN…); musl: `ERR <code> <message>`. */
  error?: string | undefined;
  /** The lookup process died (e.g. `SIGABRT`: glibc's assertion on some search lists). */
  crashed?: string | undefined;
  elapsedMs: number;
  /** Queries the servers logged for this lookup, in log order per server. */
  queries: LabQuery[];
  /** Query count per server (every scenario server listed, 0 included). */
  perServer: Record<string, number>;
  /** DNS packets the iptables rule dropped per `drop` server during this lookup (what a dead server was sent). */
  dropped: Record<string, number>;
}

export interface LabResult {
  lookups: LabLookupResult[];
}

/** What the driver receives (written as JSON into the session directory). */
export interface DriverInput {
  dir: string;
  resolvConf: string;
  servers: string[];
  records: LabRecord[];
  drop: string[];
  lookups: LabLookup[];
  musl: string;
  bin: { ip: string; dnsmasq: string; iptables: string; mount: string };
}

/** What the driver prints on stdout (one JSON document). */
export interface DriverOutput {
  lookups: Array<Omit<LabLookupResult, 'perServer'>>;
}

const LAB_PACKAGES = 'dnsmasq-base musl-tools iptables';
const INSTALL_HINT = `run as root after: apt-get update && apt-get install -y ${LAB_PACKAGES}`;

const DRIVER = fileURLToPath(new URL('./dns-lab-driver.ts', import.meta.url));
const MUSL_SOURCE = fileURLToPath(new URL('./musl-lookup.c', import.meta.url));

const SEARCH_PATH = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin'];

function findBinary(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

const REQUIRED = ['unshare', 'mount', 'ip', 'dnsmasq', 'musl-gcc', 'iptables'] as const;

/** What is missing to run the lab (empty when it can run). */
function missingLabPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (unshare -mn, bind mounts and iptables need it)');
  for (const name of REQUIRED) if (findBinary(name) === undefined) missing.push(name);
  return missing;
}

/** Throws (so tests fail, never skip) when the lab cannot run, saying what to install. */
export function assertLabPrerequisites(): void {
  const missing = missingLabPrerequisites();
  if (missing.length > 0) {
    throw new Error(`dns-lab cannot run: missing ${missing.join(', ')}; ${INSTALL_HINT}`);
  }
}

function required(name: (typeof REQUIRED)[number]): string {
  const path = findBinary(name);
  if (path === undefined) throw new Error(`dns-lab: ${name} not found; ${INSTALL_HINT}`);
  return path;
}

const execFileAsync = promisify(execFile);

/** Builds the static musl lookup program into `dir`; returns its path. */
export async function buildMuslLookup(dir: string): Promise<string> {
  const out = join(dir, 'musl-lookup');
  await execFileAsync(required('musl-gcc'), ['-static', '-O2', '-o', out, MUSL_SOURCE]);
  return out;
}

/**
 * Runs one lab session: every lookup of the scenario, in order, against fresh dnsmasq servers, in one `unshare -mn`
 * process tree. Pass `muslBinary` to reuse a program built by buildMuslLookup (otherwise it is built per session).
 */
export async function runLab(scenario: LabScenario, options: { muslBinary?: string } = {}): Promise<LabResult> {
  assertLabPrerequisites();
  const dir = mkdtempSync(join(tmpdir(), 'dns-lab-'));
  try {
    const musl = options.muslBinary ?? (await buildMuslLookup(dir));
    const input: DriverInput = {
      dir,
      resolvConf: scenario.resolvConf,
      servers: scenario.servers,
      records: scenario.records,
      drop: scenario.drop ?? [],
      lookups: scenario.lookups,
      musl,
      bin: {
        ip: required('ip'),
        dnsmasq: required('dnsmasq'),
        iptables: required('iptables'),
        mount: required('mount'),
      },
    };
    const inputPath = join(dir, 'input.json');
    writeFileSync(inputPath, JSON.stringify(input));
    const stdout = await runSession(
      required('unshare'),
      ['-mn', '--', process.execPath, DRIVER, inputPath],
      scenario.timeoutMs ?? 60_000,
    );
    const output = JSON.parse(stdout) as DriverOutput;
    return {
      lookups: output.lookups.map((lookup) => {
        const perServer: Record<string, number> = {};
        for (const server of scenario.servers) perServer[server] = 0;
        for (const q of lookup.queries) perServer[q.server] = (perServer[q.server] ?? 0) + 1;
        return { ...lookup, perServer };
      }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the session in its own process group so a timeout can kill the driver and every dnsmasq at once. */
function runSession(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the driver left behind (it stops its dnsmasq itself unless it died) goes with the group.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
      if (timedOut) reject(new Error(`dns-lab session timed out after ${timeoutMs} ms\n${stderr}`));
      else if (code !== 0) reject(new Error(`dns-lab session failed (${code ?? signal})\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Queries a lookup sent to `server`: what the server logged plus what the DROP rule swallowed. */
export function sentTo(result: LabLookupResult, server: string): number {
  return (result.perServer[server] ?? 0) + (result.dropped[server] ?? 0);
}
