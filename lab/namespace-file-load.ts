/**
 * Run as a child process (./namespace-file.ts): loads an offline object file with the built dist/ file source and
 * prints one JSON line, NamespaceFileLoad. `--whole` reads it as one syntax tree whatever its size (the read before
 * large files were read entry by entry), for the benchmark's comparison.
 * Usage: node lab/namespace-file-load.ts FILE [--whole]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './paths.ts';

const [file, how] = process.argv.slice(2);
if (!file) throw new Error('usage: node lab/namespace-file-load.ts FILE [--whole]');
const built = (await import(
  pathToFileURL(join(ROOT, 'dist', 'namespaces', 'file-source.js')).href
)) as typeof import('../src/namespaces/file-source.ts');
let size: number;
if (how === '--whole') {
  const parsed = built.parseObjectFile(readFileSync(file, 'utf8'), file, Number.POSITIVE_INFINITY);
  if (!parsed.ok) throw new Error(parsed.error);
  size = parsed.namespaces.size;
} else {
  const source = built.createFileNamespaceSource(file);
  await source.start();
  size = source.status().size;
}
const peakRssBytes = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
process.stdout.write(`${JSON.stringify({ size, peakRssBytes })}\n`);
