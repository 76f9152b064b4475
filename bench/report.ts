/**
 * Helpers every benchmark shares: the machine description that heads each result, small statistics, Markdown
 * tables, and writing one `## Section` of docs/benchmarks.md without touching the other sections.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

export const DOC_HEADER = [
  '# Benchmarks',
  '',
  'Measured numbers, not goals: every section says on which machine, with which command and when it was run,',
  'and is rewritten by the benchmark that produced it (`npm run bench:webhook -- --out docs/benchmarks.md`, …).',
  '',
].join('\n');

export interface Machine {
  cpus: number;
  cpuModel: string;
  memory: string;
  node: string;
}

export function machine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
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
  return { cpus: availableParallelism(), cpuModel: model, memory, node: process.version };
}

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile of already collected samples (`p` in 0..100). */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
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
 * Replaces the `## {title}` section of a Markdown file (up to the next `## ` heading) with `body`, or appends it;
 * creates the file with DOC_HEADER if it does not exist.
 */
export function writeSection(file: string, title: string, body: string): void {
  const heading = `## ${title}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : DOC_HEADER;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  const section = [heading, '', body.trimEnd(), ''];
  if (start === -1) {
    const trimmed = text.trimEnd();
    writeFileSync(file, `${trimmed}\n\n${section.join('\n')}`);
    return;
  }
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end === -1) end = lines.length;
  const next = [...lines.slice(0, start), ...section, ...(end < lines.length ? lines.slice(end) : [])];
  writeFileSync(file, `${next.join('\n').trimEnd()}\n`);
}
