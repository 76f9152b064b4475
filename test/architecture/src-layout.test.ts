/**
 * The layout's rules, checked on the import graph of src/ (docs/adr/0006-one-room-per-job.md): data walks one way,
 * the engine imports nothing of ours outside itself, nothing below the HTTP layer knows Fastify, the offline CLI
 * never loads the server, and there is no import cycle. The rules are data; the checker is also run on a graph that
 * breaks each of them, so a rule that could never fail is caught here too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../lab/paths.ts';

/** file (relative to src/, e.g. `core/decide.ts`) → what it imports: our files (relative to src/) or package names. */
type Graph = Map<string, Array<{ target: string; dynamic: boolean }>>;

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function readGraph(srcDir: string): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8');
    const edges: Array<{ target: string; dynamic: boolean }> = [];
    const add = (spec: string, dynamic: boolean) => {
      const target = spec.startsWith('.') ? relative(srcDir, resolve(dirname(file), spec)) : packageName(spec);
      edges.push({ target, dynamic });
    };
    for (const m of text.matchAll(IMPORT)) add((m[1] ?? m[2]) as string, false);
    for (const m of text.matchAll(DYNAMIC)) add(m[1] as string, true);
    graph.set(relative(srcDir, file), edges);
  }
  return graph;
}

function packageName(spec: string): string {
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

const ours = (target: string) => target.endsWith('.ts');
const inRoom = (file: string, room: string) => file.startsWith(`${room}/`);

/** Files reachable from `start` through static imports (what loads when `start` loads). */
function staticClosure(graph: Graph, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const queue = [start];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    for (const edge of graph.get(file) ?? []) {
      if (edge.dynamic || seen.has(edge.target)) continue;
      seen.add(edge.target);
      if (ours(edge.target)) queue.push(edge.target);
    }
  }
  return seen;
}

/** One cycle per strongly connected group of files (iterative DFS: the graph may be deep). */
function cycles(graph: Graph): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  for (const root of graph.keys()) {
    if (state.has(root)) continue;
    const stack: Array<{ file: string; next: number }> = [{ file: root, next: 0 }];
    state.set(root, 'open');
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { file: string; next: number };
      const edges = (graph.get(top.file) ?? []).filter((e) => ours(e.target) && graph.has(e.target));
      const edge = edges[top.next++];
      if (edge === undefined) {
        state.set(top.file, 'done');
        stack.pop();
      } else if (state.get(edge.target) === 'open') {
        const from = stack.findIndex((s) => s.file === edge.target);
        found.push([...stack.slice(from).map((s) => s.file), edge.target]);
      } else if (!state.has(edge.target)) {
        state.set(edge.target, 'open');
        stack.push({ file: edge.target, next: 0 });
      }
    }
  }
  return found;
}

/** Every broken rule, as one sentence each. */
function violations(graph: Graph): string[] {
  const out: string[] = [];
  const pureRooms = ['core', 'review', 'dryrun', 'resolver-model'];
  for (const [file, edges] of graph) {
    for (const { target } of edges) {
      const say = (rule: string) => out.push(`${file} imports ${target}: ${rule}`);
      if (inRoom(file, 'core') && ours(target) && !inRoom(target, 'core')) say('the engine imports nothing of ours');
      if (inRoom(file, 'core') && ['node:fs', 'node:net', 'node:http', 'node:https', 'pino'].includes(target)) {
        say('the engine does no I/O and has no logger');
      }
      if (pureRooms.some((room) => inRoom(file, room)) && (target === 'fastify' || inRoom(target, 'http'))) {
        say('nothing below the HTTP layer knows Fastify or the routes');
      }
      if (target === 'fastify' && !['http', 'server'].some((room) => inRoom(file, room))) {
        say('only src/http/ and the composition root (src/server/) import Fastify');
      }
      if (ours(target) && target.startsWith('..')) say('src/ imports nothing from test/, bench/, lab/ or scripts/');
    }
  }
  // The offline CLI: `dns-tuner explain` and `dns-tuner audit` (a client of the API server, not a server) must not
  // load the webhook's server.
  for (const entry of ['cli/dns-tuner.ts', 'cli/explain.ts', 'cli/audit.ts']) {
    if (!graph.has(entry)) continue;
    for (const loaded of staticClosure(graph, entry)) {
      if (loaded === 'fastify' || inRoom(loaded, 'http') || inRoom(loaded, 'server')) {
        out.push(`${entry} loads ${loaded}: the offline CLI never loads the HTTP server`);
      }
    }
  }
  for (const cycle of cycles(graph)) out.push(`import cycle: ${cycle.join(' → ')}`);
  return out;
}

describe('the layout of src/', () => {
  const graph = readGraph(join(ROOT, 'src'));

  it('reads the real import graph (every room, static and dynamic imports)', () => {
    for (const room of ['core', 'review', 'dryrun', 'resolver-model', 'http', 'server', 'cli', 'audit']) {
      expect(
        [...graph.keys()].some((f) => inRoom(f, room)),
        room,
      ).toBe(true);
    }
    expect(graph.get('core/decide.ts')?.some((e) => e.target === 'core/types.ts')).toBe(true);
    expect(graph.get('cli/dns-tuner.ts')?.some((e) => e.dynamic && e.target === 'cli/serve.ts')).toBe(true);
  });

  it('keeps every rule', () => {
    expect(violations(graph)).toEqual([]);
  });

  it('fails on a forbidden import or a cycle added on purpose', () => {
    const broken: Graph = new Map(graph);
    const add = (file: string, target: string, dynamic = false) =>
      broken.set(file, [...(broken.get(file) ?? []), { target, dynamic }]);
    add('core/decide.ts', 'review/service.ts');
    add('dryrun/report.ts', 'fastify');
    add('review/service.ts', 'http/webhook-app.ts');
    add('cli/explain.ts', 'server/start.ts');
    add('audit/report.ts', 'http/errors.ts');
    add('config/load.ts', '../test/support/paths.ts');
    add('core/types.ts', 'core/decide.ts');
    const found = violations(broken);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining('core/decide.ts imports review/service.ts: the engine imports nothing of ours'),
        expect.stringContaining('dryrun/report.ts imports fastify: nothing below the HTTP layer'),
        expect.stringContaining('review/service.ts imports http/webhook-app.ts: nothing below the HTTP layer'),
        expect.stringContaining('cli/explain.ts loads fastify: the offline CLI never loads the HTTP server'),
        expect.stringContaining('cli/audit.ts loads http/errors.ts: the offline CLI never loads the HTTP server'),
        expect.stringContaining('config/load.ts imports ../test/support/paths.ts'),
        expect.stringMatching(/^import cycle: .*core\/types\.ts → core\/decide\.ts/),
      ]),
    );
  });
});
