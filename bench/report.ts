/**
 * Helpers every benchmark shares: the machine description that heads the webhook result, Markdown tables, and the
 * command line as a reader can paste it. Statistics: lab/stats.ts. Writing a section of docs/benchmarks.md:
 * ./doc-markers.ts.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { cpuModel } from './host.ts';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memory: string;
  node: string;
}

export function machine(): Machine {
  let memory = 'unknown';
  try {
    // `free -h`'s "Mem:" line: total, used, free, shared, buff/cache, available.
    const line = execFileSync('free', ['-h'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('Mem:'));
    const f = line?.split(/\s+/) ?? [];
    if (f.length >= 7) memory = `${f[1]} total, ${f[6]} available (free -h)`;
  } catch {
    // free(1) missing: leave unknown.
  }
  // The machine's CPUs, not this process's share: the benchmarks pin themselves to one core.
  return { cpus: cpus().length, cpuModel: cpuModel(), memory, node: process.version };
}

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: string): string {
  const sep = align ?? header.map((_, i) => (i === 0 ? '---' : '--:')).join('|');
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${sep}|`, ...rows.map(line)].join('\n');
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function mib(bytes: number): string {
  return fixed(bytes / (1024 * 1024), 1);
}

/**
 * `word` as a POSIX shell reads it back: unchanged when it holds nothing the shell treats specially, otherwise in
 * single quotes. For `--flag=value` only the value is quoted (`--server-flags='--a --b'`), as a person would write it.
 */
export function shellWord(word: string): string {
  const safe = /^[\w@%+=:,./-]+$/;
  if (safe.test(word)) return word;
  const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  const flag = /^(--[\w-]+=)(.*)$/s.exec(word);
  return flag ? `${flag[1]}${quoted(flag[2] ?? '')}` : quoted(word);
}
