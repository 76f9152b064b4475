/**
 * `npm run bench:webhook`: what one AdmissionReview costs dns-tuner as the container runs it, side by side with THE
 * JOB'S LIMIT — the least any webhook doing this job must spend — and the bare limit (TLS, HTTP and JSON.parse only).
 *
 * dns-tuner is the production entry point (`node dist/main.js`, watching the fake Kubernetes API), the limits are
 * child processes (bench/limit-server.ts); all run with the Deployment's NODE_OPTIONS, pinned to one core, and the
 * load generator (./webhook/client.ts, in this process) to the other. For every pod size and concurrency the servers
 * are measured alternately (ours, job, bare, bare, job, ours, …) for several rounds and the medians are reported, so
 * drift on a shared machine hits all. Each server's CPU time per review is read from /proc next to its throughput.
 *
 * Usage: npm run bench:webhook -- [--quick] [--check] [--duration S] [--rounds N] [--only LIST] [--concurrency LIST]
 *                                 [--baseline REF] [--out FILE]
 *   --check        the regression guard (./webhook/check.ts): exits 1 when a ratio falls below bench/webhook/floors.json
 *   --baseline REF also runs the build of git REF, to measure one change against what came before, in one run
 *   --out FILE     also write the Markdown into FILE's "## Webhook cost" section (docs/benchmarks.md, between the
 *                  `<!-- bench:webhook start/end -->` markers)
 *
 * The parts are in ./webhook/: flags.ts, pinning.ts, cluster.ts (the fake API), servers.ts (the processes), client.ts
 * (load generation), load.ts (one measured run), rounds.ts (A/B rounds and medians), experiments.ts (the tables),
 * markdown.ts (the report), check.ts (the guard). The CPU profile of the same setup: bench/profile.ts.
 */
import { SERVICE_NAME } from '../lab/paths.ts';
import { makeCa, makeServingCert } from '../lab/pki.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { loadAverage, shellWord } from './report.ts';
import { runCheck } from './webhook/check.ts';
import { type Bench, mainTables, namespaceTable } from './webhook/experiments.ts';
import { type Flags, parseFlags, SECTION, SECTION_ID, USAGE } from './webhook/flags.ts';
import { loadGenerator } from './webhook/load.ts';
import { markdown, type Results } from './webhook/markdown.ts';
import { pinLoadGenerator } from './webhook/pinning.ts';
import { progress } from './webhook/rounds.ts';
import { Servers } from './webhook/servers.ts';

/** Run on the way out, last registered first. */
const cleanups: Array<() => void> = [];

async function main(): Promise<number> {
  let parsed: Flags | 'help';
  try {
    parsed = parseFlags(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench:webhook: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const flags = parsed;
  const layout = pinLoadGenerator();
  const loadBefore = loadAverage();
  const date = new Date().toISOString();
  // Each word quoted as needed, so the line in the doc can be pasted back into a shell.
  const args = process.argv.slice(2).map(shellWord);
  const command = ['npm run bench:webhook', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  progress(`bench:webhook: ${layout}; load average before ${loadBefore}`);

  const authority = await makeCa({ commonName: 'bench CA' });
  const pem = await makeServingCert(authority, { hosts: [SERVICE_NAME, 'localhost', '127.0.0.1'] });
  const servers = new Servers(pem, { execArgv: flags.serverFlags, nodeOptions: flags.nodeOptions });
  cleanups.push(() => servers.killAll());
  const bench: Bench = { flags, load: loadGenerator(authority.cert), servers };
  if (flags.check) return runCheck(bench);

  const results: Results = {
    flags,
    command,
    date,
    loadBefore,
    loadAfter: '',
    layout,
    nodeOptions: servers.nodeOptions,
    main: undefined,
    namespaces: [],
  };
  const pods = (['small', 'typical', 'large'] as const).filter((p) => flags.only.has(p));
  if (pods.length > 0 || flags.only.has('pod-size')) results.main = await mainTables(bench, pods);
  if (flags.only.has('namespaces')) results.namespaces = await namespaceTable(bench);

  results.loadAfter = loadAverage();
  progress(`bench:webhook: load average after ${results.loadAfter}`);
  const text = markdown(results);
  process.stdout.write(`## ${SECTION}\n\n${text}\n`);
  if (flags.out) {
    writeMarkedSection(flags.out, SECTION_ID, SECTION, text);
    progress(`bench:webhook: wrote "## ${SECTION}" in ${flags.out}`);
  }
  return 0;
}

function cleanUp(): void {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

try {
  process.exitCode = await main();
} finally {
  cleanUp();
}
