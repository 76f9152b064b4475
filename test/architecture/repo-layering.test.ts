/**
 * Who may import whom across the repository, one way only: src/ (the product) imports nothing of the rest; lab/ (what tests and benchmarks share) imports src/; test/, bench/ and scripts/ import src/ and lab/, never
 * each other. Read from the sources' import and export-from specifiers (static and dynamic), not from a list. The rooms
 * inside src/ have their own rules: ./src-layout.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../lab/paths.ts';

/** Each folder and the folders it may import from; the longest matching folder applies. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  src: ['src'],
  lab: ['src', 'lab'],
  test: ['src', 'lab', 'test'],
  bench: ['src', 'lab', 'bench'],
  scripts: ['src', 'lab', 'scripts'],
};

interface Edge {
  from: string;
  to: string;
}

/** Relative specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const pattern of [/\bfrom\s+'([^']+)'/g, /\bimport\s+'([^']+)'/g, /\bimport\(\s*'([^']+)'\s*\)/g]) {
    for (const match of source.matchAll(pattern)) found.push(match[1]!);
  }
  return found.filter((s) => s.startsWith('.'));
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name));
}

/** Every import between files of the repository, as repository-relative paths. */
function edges(): Edge[] {
  const all: Edge[] = [];
  for (const folder of ['src', 'lab', 'test', 'bench', 'scripts']) {
    for (const file of sourceFiles(folder)) {
      for (const specifier of specifiers(readFileSync(join(ROOT, file), 'utf8'))) {
        all.push({ from: file, to: relative(ROOT, resolve(ROOT, dirname(file), specifier)) });
      }
    }
  }
  return all;
}

/** The most specific folder of MAY_IMPORT that holds `path`, or undefined (a file outside them: no rule). */
function areaOf(path: string): string | undefined {
  return Object.keys(MAY_IMPORT)
    .filter((folder) => path.startsWith(`${folder}/`))
    .sort((a, b) => b.length - a.length)[0];
}

/** The imports that break the rules, as `from -> to` lines. */
function violations(list: readonly Edge[]): string[] {
  return list
    .filter(({ from, to }) => {
      const allowed = MAY_IMPORT[areaOf(from) ?? ''];
      return allowed !== undefined && !allowed.some((folder) => to === folder || to.startsWith(`${folder}/`));
    })
    .map(({ from, to }) => `${from} -> ${to}`);
}

describe('layering', () => {
  const found = edges();

  it('reads the imports of every folder', () => {
    // The check below means something only if the scan sees the imports that exist.
    for (const folder of ['src', 'lab', 'test', 'bench', 'scripts']) {
      expect(found.some((e) => e.from.startsWith(`${folder}/`))).toBe(true);
    }
    expect(found).toContainEqual({ from: 'scripts/dev-certs.ts', to: 'lab/pki.ts' });
  });

  it('imports one way only: src <- lab <- test, bench, scripts', () => {
    expect(violations(found)).toEqual([]);
  });

  it('flags an import against the rules', () => {
    expect(
      violations([
        { from: 'bench/x.ts', to: 'test/support/y.ts' },
        { from: 'lab/x.ts', to: 'bench/report.ts' },
        { from: 'src/x.ts', to: 'lab/paths.ts' },
        { from: 'test/x.ts', to: 'lab/paths.ts' },
        { from: 'src/http/x.ts', to: 'src/core/y.ts' },
      ]),
    ).toEqual(['bench/x.ts -> test/support/y.ts', 'lab/x.ts -> bench/report.ts', 'src/x.ts -> lab/paths.ts']);
  });
});
