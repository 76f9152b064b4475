/**
 * `npm run bench:webhook`: what one AdmissionReview costs dns-tuner, side by side with THE LIMIT — a bare node:https
 * server on the same TLS setup that only reads the body, JSON.parses it and answers a constant AdmissionReview.
 *
 * Both servers run in child processes (bench/server.ts); autocannon drives them from this process over HTTPS with
 * keep-alive and no pipelining (the apiserver's webhook client does not pipeline). For every pod size and
 * concurrency the two are measured alternately (ours, limit, limit, ours, …) for several rounds and the medians are
 * reported, so drift on a shared machine hits both. Latency percentiles come from every response time (autocannon's
 * own histogram has 1 ms resolution), CPU time and memory from the server process (process.resourceUsage() over IPC,
 * peak RSS sampled from /proc during the run).
 *
 * Usage: npm run bench:webhook -- [--quick] [--duration S] [--rounds N] [--only LIST] [--concurrency LIST] [--out FILE]
 *   --only         comma list of: small, typical, large (the main table), pod-size, namespaces (the growth tables)
 *   --out FILE     also write the Markdown into FILE's "## Webhook cost" section (docs/benchmarks.md, between the
 *                  `<!-- bench:webhook start/end -->` markers)
 *
 * This file is the command line; the parts are in ./webhook/: flags.ts (the flags), servers.ts (the child servers),
 * load.ts (load generation), rounds.ts (A/B rounds and medians), experiments.ts (the three tables), markdown.ts (the
 * report).
 */
import { SERVICE_NAME } from '../lab/paths.ts';
import { makeCa, makeServingCert } from '../lab/pki.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { loadAverage, shellWord } from './report.ts';
import { type Bench, namespaceTable, oursAndLimitTables } from './webhook/experiments.ts';
import { type Flags, parseFlags, SECTION, SECTION_ID, USAGE } from './webhook/flags.ts';
import { loadGenerator } from './webhook/load.ts';
import { markdown, type Results } from './webhook/markdown.ts';
import { progress } from './webhook/rounds.ts';
import { ChildServers, compileServer } from './webhook/servers.ts';

async function main(): Promise<void> {
  let parsed: Flags | 'help';
  try {
    parsed = parseFlags(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench:webhook: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const flags = parsed;
  const loadBefore = loadAverage();
  const date = new Date().toISOString();
  // Each word quoted as needed, so the line in the doc can be pasted back into a shell.
  const args = process.argv.slice(2).map(shellWord);
  const command = ['npm run bench:webhook', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  progress(`bench:webhook: load average before ${loadBefore}`);

  const compiled = compileServer();
  cleanups.push(compiled.cleanup);
  // --expose-gc only so the idle-memory readings can be taken after a full collection.
  const execArgv = ['--expose-gc', ...flags.serverFlags];
  if (flags.profile) execArgv.push('--cpu-prof', `--cpu-prof-dir=${flags.profile}`);
  const servers = new ChildServers(compiled.entry, execArgv);
  cleanups.push(() => servers.killAll());
  const authority = await makeCa({ commonName: 'bench CA' });
  const pem = await makeServingCert(authority, { hosts: [SERVICE_NAME, 'localhost', '127.0.0.1'] });
  const bench: Bench = { flags, load: loadGenerator(authority.cert), servers };

  const results: Results = {
    flags,
    command,
    date,
    loadBefore,
    loadAfter: '',
    cells: [],
    sizes: [],
    namespaces: [],
    oursIdle: undefined,
  };
  const pods = (['small', 'typical', 'large'] as const).filter((p) => flags.only.has(p));
  if (pods.length > 0 || flags.only.has('pod-size')) {
    const tables = await oursAndLimitTables(bench, pem, pods);
    results.cells = tables.cells;
    results.sizes = tables.sizes;
    results.oursIdle = tables.oursIdle;
  }
  if (flags.only.has('namespaces')) results.namespaces = await namespaceTable(bench, pem);

  results.loadAfter = loadAverage();
  progress(`bench:webhook: load average after ${results.loadAfter}`);
  const text = markdown(results);
  process.stdout.write(`## ${SECTION}\n\n${text}\n`);
  if (flags.out) {
    writeMarkedSection(flags.out, SECTION_ID, SECTION, text);
    progress(`bench:webhook: wrote "## ${SECTION}" in ${flags.out}`);
  }
}

/** Run on the way out, last registered first: the servers are killed before their compiled code is removed. */
const cleanups: Array<() => void> = [];

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
  await main();
} finally {
  cleanUp();
}
