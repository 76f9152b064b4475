/** What a measured number was measured on: the lines that head the results in docs/benchmarks.md. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';

function firstLine(command: string, args: string[]): string | undefined {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  const text = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  return run.error === undefined && text !== '' ? text.split('\n')[0]?.trim() : undefined;
}

export function cpuModel(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
}

/** musl's dynamic loader prints its version when run directly (Debian: /lib/x86_64-linux-musl/libc.so). */
function muslVersion(): string {
  for (const path of [
    '/lib/x86_64-linux-musl/libc.so',
    '/usr/lib/x86_64-linux-musl/libc.so',
    '/lib/ld-musl-x86_64.so.1',
  ]) {
    const run = spawnSync(path, [], { encoding: 'utf8' });
    const version = /Version (\S+)/.exec(`${run.stdout ?? ''}${run.stderr ?? ''}`)?.[1];
    if (version) return version;
  }
  try {
    // "musl:amd64\t1.2.3-1"
    return execFileSync('dpkg-query', ['-W', 'musl'], { encoding: 'utf8' }).trim().split('\t')[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface HostFacts {
  cpus: number;
  cpuModel: string;
  memory: string;
  kernel: string;
  node: string;
}

export function hostFacts(): HostFacts {
  return {
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `Linux ${release()}`,
    node: process.version,
  };
}

export interface ResolverFacts {
  glibc: string;
  musl: string;
  dnsmasq: string;
}

export function resolverFacts(): ResolverFacts {
  return {
    glibc: firstLine('ldd', ['--version']) ?? 'unknown',
    musl: muslVersion(),
    dnsmasq: firstLine('dnsmasq', ['--version'])?.replace(/\s+Copyright.*$/, '') ?? 'unknown',
  };
}

/** One Markdown bullet list of the facts. */
export function factsMarkdown(facts: Record<string, string | number>): string {
  return Object.entries(facts)
    .map(([key, value]) => `- ${key}: ${value}`)
    .join('\n');
}
