// No Docker engine here, so the image cannot be built in tests. These are textual checks of the invariants that
// matter and that a careless edit would break: non-root distroless runtime, production-only dependencies, nothing
// but the build output in the image, and a build context that leaves keys, tests and node_modules out.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));

type Instruction = { op: string; args: string };
type Stage = { from: string; name?: string; instructions: Instruction[] };

/** Dockerfile -> stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, ...(name ? { name } : {}), instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args });
    } else if (op.toUpperCase() !== 'ARG') {
      throw new Error(`instruction before FROM: ${line}`);
    }
  }
  return stages;
}

/** COPY [--from=x] [--chown..] src... dest -> { from, sources, dest } (JSON form not used here). */
function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
}

let stages: Stage[] = [];
let dockerignore: string[] = [];
beforeAll(async () => {
  stages = parseDockerfile(await readFile(join(repo, 'Dockerfile'), 'utf8'));
  dockerignore = (await readFile(join(repo, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
});

const runtime = () => stages.at(-1)!;
const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const stageNamed = (name: string | undefined) => stages.find((s) => s.name === name);

describe('Dockerfile', () => {
  it('runtime: distroless Node 24, non-root, runs dist/main.js, exposes 9443 and 8080', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime().from).toMatch(/^gcr\.io\/distroless\/nodejs24-debian\d+:nonroot(@sha256:[0-9a-f]{64})?$/);
    expect(ops(runtime(), 'USER')).toEqual([expect.stringMatching(/^(65532(:65532)?|nonroot(:nonroot)?)$/)]);
    expect(ops(runtime(), 'ENTRYPOINT')).toEqual(['["/nodejs/bin/node", "dist/main.js"]']);
    expect(ops(runtime(), 'CMD')).toEqual([]);
    expect(ops(runtime(), 'EXPOSE').join(' ').split(/\s+/).sort()).toEqual(['8080', '9443']);
    expect(ops(runtime(), 'RUN')).toEqual([]); // distroless has no shell; nothing to run
  });

  it('runtime copies only dist/, production node_modules and package.json, all from build stages', () => {
    const copies = ops(runtime(), 'COPY').map(parseCopy);
    expect(copies.map((c) => c.dest.replace(/^\.\/|\/$/g, '')).sort()).toEqual([
      'dist',
      'node_modules',
      'package.json',
    ]);
    for (const copy of copies) expect(copy.from, `COPY ${copy.sources.join(' ')}`).toBeDefined();
    expect(ops(runtime(), 'ADD')).toEqual([]);

    // node_modules comes from a stage whose install omitted devDependencies and ran no install scripts.
    const modules = copies.find((c) => c.dest.includes('node_modules'))!;
    const installs = ops(stageNamed(modules.from)!, 'RUN').filter((r) => /\bnpm (ci|install)\b/.test(r));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) {
      expect(install).toMatch(/npm ci\b/);
      expect(install).toMatch(/--omit=dev\b/);
      expect(install).toMatch(/--ignore-scripts\b/);
    }
    // dist/ comes from the stage that compiles.
    const dist = copies.find((c) => c.dest.includes('dist'))!;
    expect(ops(stageNamed(dist.from)!, 'RUN').join('\n')).toMatch(/npm run build/);
  });

  it('builds on glibc Debian Node 24 with a clean install from the lockfile', () => {
    for (const stage of stages.slice(0, -1)) expect(stage.from).toMatch(/^node:24-bookworm-slim(@sha256:\S+)?$/);
    const build = stages.find((s) => ops(s, 'RUN').some((r) => /npm run build/.test(r)))!;
    expect(ops(build, 'RUN').join('\n')).toMatch(/npm ci\b/);
    for (const stage of stages) {
      for (const run of ops(stage, 'RUN')) expect(run).not.toMatch(/npm install\b/); // lockfile only
    }
  });

  it('never copies certificates, keys, tests, benchmarks or the whole context from the build context', async () => {
    const contextCopies = stages.flatMap((s) => ops(s, 'COPY').map(parseCopy)).filter((c) => !c.from);
    const sources = contextCopies.flatMap((c) => c.sources);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(src).not.toMatch(
        /^\.\/?$|^\*|^(\.\/)?(certs|test|bench|node_modules|dist|manifests|\.git)\b|\.(key|pem|crt)$/,
      );
      await expect(stat(join(repo, src)), `${src} exists in the repository`).resolves.toBeDefined();
    }
    for (const stage of stages) expect(ops(stage, 'ADD')).toEqual([]);
  });
});

describe('.dockerignore', () => {
  const allowed = () => dockerignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));

  it('ignores everything by default and lets in only what the build needs', () => {
    expect(dockerignore[0]).toBe('*');
    expect(allowed().sort()).toEqual([
      'package-lock.json',
      'package.json',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
    // Re-excludes key material after the allow-list (later lines win).
    const lastAllow = dockerignore.findLastIndex((l) => l.startsWith('!'));
    const after = dockerignore.slice(lastAllow + 1);
    expect(after).toEqual(expect.arrayContaining(['**/*.key', '**/*.pem', '**/*.crt']));
  });

  it('lets in every file the Dockerfile copies from the context, and tsconfig.build.json extends one that is copied', async () => {
    const sources = stages
      .flatMap((s) => ops(s, 'COPY').map(parseCopy))
      .filter((c) => !c.from)
      .flatMap((c) => c.sources.map((s) => s.replace(/^\.\/|\/$/g, '')));
    for (const src of sources) expect(allowed(), src).toContain(src);
    const build = await readFile(join(repo, 'tsconfig.build.json'), 'utf8');
    const parent = /"extends"\s*:\s*"\.\/([^"]+)"/.exec(build)?.[1];
    if (parent !== undefined) expect(sources).toContain(parent);
  });
});
