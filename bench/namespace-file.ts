/**
 * `npm run bench:namespace-file`: what loading a large offline namespace file costs (issue 12) — `kubectl get ns -o
 * yaml` for N namespaces (lab/namespace-file.ts, ~1.2 KB each) loaded by the built dist/ in a child process:
 *
 * - `entry by entry`: the file source as it ships (a file above 1 MiB is read by src/yaml/list-stream.ts);
 * - `one syntax tree`: the same file read whole (`parseAllDocuments`), as before issue 12.
 *
 * For each: whether it loads under the Deployment's NODE_OPTIONS (manifests/base/deployment.yaml) and its peak RSS
 * there; its peak RSS and wall time with room to spare (`--max-old-space-size=2048`, median of `--rounds` children);
 * and the smallest `--max-old-space-size` of a ladder that loads it.
 *
 *   npm run bench:namespace-file [-- --namespaces 10000 --rounds 3 --out docs/benchmarks.md|-]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deploymentNodeOptions } from '../lab/deployment.ts';
import { kubectlNamespaceList, NAMESPACE_FILE_LOAD, type NamespaceFileLoad } from '../lab/namespace-file.ts';
import { ROOT } from '../lab/paths.ts';
import { isolatedEnv, requireBuilt, spawnNode } from '../lab/process.ts';
import { median } from '../lab/stats.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { factsMarkdown, hostFacts } from './host.ts';

const MIB = 1024 * 1024;
const LADDER = [16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024];
const contenders = [
  { name: 'entry by entry', args: [] },
  { name: 'one syntax tree', args: ['--whole'] },
] as const;

const { values: args } = parseArgs({
  options: {
    namespaces: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: '-' },
  },
});
const count = Number(args.namespaces);
const rounds = Number(args.rounds);
requireBuilt(join(ROOT, 'dist', 'namespaces', 'file-source.js'));

interface Run {
  load: NamespaceFileLoad | undefined;
  ms: number;
}

async function load(file: string, extra: readonly string[], nodeOptions: string): Promise<Run> {
  const started = performance.now();
  const run = spawnNode(NAMESPACE_FILE_LOAD, [file, ...extra], {
    env: isolatedEnv({ NODE_OPTIONS: nodeOptions }),
    killAfterMs: 300_000,
  });
  const { code } = await run.exit;
  const ms = performance.now() - started;
  if (code !== 0) return { load: undefined, ms };
  const result = JSON.parse(run.stdout()) as NamespaceFileLoad;
  if (result.size !== count) throw new Error(`loaded ${result.size} namespaces, expected ${count}`);
  return { load: result, ms };
}

/** The Deployment's flags with another old-space size. */
const withOldSpace = (options: string, mib: number) =>
  `${options.replace(/--max-old-space-size=\d+/, '')} --max-old-space-size=${mib}`.trim();

const dir = await mkdtemp(join(tmpdir(), 'dns-tuner-bench-nsfile-'));
try {
  const file = join(dir, 'namespaces.yaml');
  const text = kubectlNamespaceList(count);
  await writeFile(file, text);
  const deployment = deploymentNodeOptions();
  const rows: string[] = [];
  for (const contender of contenders) {
    const underDeployment = await load(file, contender.args, deployment);
    const roomy: Run[] = [];
    for (let r = 0; r < rounds; r++) roomy.push(await load(file, contender.args, withOldSpace(deployment, 2048)));
    const peaks = roomy.map((r) => r.load?.peakRssBytes ?? Number.NaN);
    // Binary search on the ladder for the smallest old space that loads.
    let low = 0;
    let high = LADDER.length - 1;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const run = await load(file, contender.args, withOldSpace(deployment, LADDER[mid]!));
      if (run.load) high = mid;
      else low = mid + 1;
    }
    const deploymentCell = underDeployment.load
      ? `yes, peak RSS ${(underDeployment.load.peakRssBytes / MIB).toFixed(1)} MiB`
      : 'no (out of heap)';
    rows.push(
      `| ${contender.name} | ${deploymentCell} | ${(median(peaks) / MIB).toFixed(1)} | ${median(roomy.map((r) => r.ms)).toFixed(0)} | ${LADDER[low]} |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
  const host = hostFacts();
  const body = [
    `Command: \`npm run bench:namespace-file -- --namespaces ${count} --rounds ${rounds}\` (\`kubectl get ns -o yaml\` for ${count.toLocaleString('en')} namespaces, ${(text.length / MIB).toFixed(1)} MiB; the Deployment's NODE_OPTIONS \`${deployment}\`). Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    factsMarkdown({ CPUs: `${host.cpus} × ${host.cpuModel}`, memory: host.memory, node: host.node }),
    '',
    "| read | loads under the Deployment's flags | peak RSS MiB with room (old space 2048) | wall ms (child, incl. start) | smallest old space that loads, MiB |",
    '| --- | --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  if (args.out === '-') process.stdout.write(`${body}\n`);
  else writeMarkedSection(args.out, 'bench:namespace-file', 'Large offline namespace file', body);
} finally {
  await rm(dir, { recursive: true, force: true });
}
