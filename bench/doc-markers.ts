/**
 * Writes one section of docs/benchmarks.md between HTML comment markers, so each benchmark regenerates its own
 * section and leaves everything else (other benchmarks' sections, hand-written text) alone:
 *
 *   ## What it buys: DNS
 *   <!-- bench:dns start -->
 *   …generated…
 *   <!-- bench:dns end -->
 *
 * The heading sits OUTSIDE the markers, so a person may retitle it; generated bodies use `###` and below, so a
 * body never looks like the start of another section.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const HEADER = [
  '# Benchmarks',
  '',
  'Measured numbers, not goals: every section says on which machine, with which command and when it was run,',
  'and is rewritten by the benchmark that produced it (`npm run bench:webhook -- --out docs/benchmarks.md`, …).',
  '',
].join('\n');

/** Replaces the text between `<!-- {id} start -->` and `<!-- {id} end -->`, or appends `## {title}` and the block. */
export function writeMarkedSection(file: string, id: string, title: string, body: string): void {
  const start = `<!-- ${id} start -->`;
  const end = `<!-- ${id} end -->`;
  if (body.split('\n').some((line) => /^## /.test(line))) {
    throw new Error(`section ${id}: use ### headings inside a generated body`);
  }
  const block = `${start}\n${body.trim()}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const from = text.indexOf(start);
  const to = from === -1 ? -1 : text.indexOf(end, from);
  let next: string;
  if (from !== -1 && to !== -1) {
    next = `${text.slice(0, from)}${block}${text.slice(to + end.length)}`;
  } else {
    next = `${text.trimEnd()}\n\n## ${title}\n\n${block}\n`;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${next.trimEnd()}\n`);
}
