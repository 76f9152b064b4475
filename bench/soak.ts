/**
 * `npm run soak`: the long soak (lab/soak.ts; the short one runs in `npm test`). dns-tuner runs as
 * `node dist/main.js` (a child process, so the RSS sampled is the server's alone) against the fake API server, under
 * continuous review load from keep-alive HTTPS clients, while the certificate rotates, the config is edited (valid and
 * invalid), namespaces churn and watches expire and drop, cycle after cycle; then SIGTERM with the clients still
 * sending through the start of the drain. Prints a summary, writes it into docs/benchmarks.md ("Soak"), and exits
 * non-zero on any failed review or any change that did not show.
 *
 *   npm run build && npm run soak [-- --minutes 10 --clients 4 --server child|in-process --out docs/benchmarks.md|-]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../lab/paths.ts';
import { MAIN } from '../lab/process.ts';
import { formatSoakSummary, runSoak, type SoakResult } from '../lab/soak.ts';
import { median } from '../lab/stats.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { factsMarkdown, hostFacts } from './host.ts';
import { table } from './report.ts';

const MIB = 1024 * 1024;
/**
 * Bound on each "the change shows" wait. The namespace source backs off like client-go's reflector after a watch
 * ends badly (full jitter up to 30 s, reset only after 2 quiet minutes), and the soak disrupts the watch twice per
 * cycle, so after a few cycles a relabel may take up to ~30 s to reach the cache.
 */
const SETTLE_MS = 45_000;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '4' },
    server: { type: 'string', default: 'child' },
    'sample-seconds': { type: 'string', default: '5' },
    drain: { type: 'string', default: '3' },
    out: { type: 'string', default: join(ROOT, 'docs/benchmarks.md') },
  },
});

const minutes = Number(args.minutes);
const clients = Number(args.clients);
const sampleSeconds = Number(args['sample-seconds']);
const drainSeconds = Number(args.drain);
if (![minutes, clients, sampleSeconds, drainSeconds].every((n) => Number.isFinite(n) && n > 0)) {
  process.stderr.write('soak: --minutes, --clients, --sample-seconds and --drain take positive numbers\n');
  process.exit(2);
}
if (args.server !== 'child' && args.server !== 'in-process') {
  process.stderr.write('soak: --server is child or in-process\n');
  process.exit(2);
}
const server = args.server;
if (server === 'child' && !existsSync(MAIN)) {
  process.stderr.write('soak: dist/main.js is missing: run `npm run build` first (or pass --server in-process)\n');
  process.exit(2);
}

/** RSS (and V8 heap in use) over time in ten slices: the median of each, to see a trend at a glance. */
function memoryTrend(result: SoakResult): string {
  const samples = result.rss.samples;
  const slices = Math.min(10, samples.length);
  if (slices === 0) return '';
  const header = ['MiB'];
  const rss = ['RSS'];
  const heap = ['V8 heap used'];
  for (let i = 0; i < slices; i++) {
    const part = samples.slice(
      Math.floor((i * samples.length) / slices),
      Math.floor(((i + 1) * samples.length) / slices),
    );
    header.push(`≤ ${((part.at(-1)?.atMs ?? 0) / 60_000).toFixed(1)} min`);
    rss.push((median(part.map((s) => s.rss)) / MIB).toFixed(1));
    const heaps = part.flatMap((s) => (s.heapUsed === undefined ? [] : [s.heapUsed]));
    heap.push(heaps.length > 0 ? (median(heaps) / MIB).toFixed(1) : '–');
  }
  return table(header, [rss, heap]);
}

const startedAt = new Date();
// NODE_OPTIONS reaches the server child too (its environment is this one's): part of what was measured.
const nodeOptions = process.env.NODE_OPTIONS
  ? `NODE_OPTIONS="${process.env.NODE_OPTIONS.replace(/["\\$`]/g, '\\$&')}" `
  : '';
const command = `${nodeOptions}npm run soak -- --minutes ${minutes}${clients === 4 ? '' : ` --clients ${clients}`}${
  server === 'child' ? '' : ' --server in-process'
}`;
process.stderr.write(`soak: ${minutes} min, ${clients} clients, server ${server}\n`);
const result = await runSoak({
  server,
  durationMs: minutes * 60_000,
  clients,
  stepPauseMs: 1_000,
  sampleEveryMs: sampleSeconds * 1000,
  drainSeconds,
  settleTimeoutMs: SETTLE_MS,
  endpointRemovalMs: 500,
  progress: (line) => process.stderr.write(`soak: ${line}\n`),
});
const summary = formatSoakSummary(result);
process.stdout.write(`${summary}\n`);

const ok = result.failures === 0 && result.problems.length === 0;
if (args.out !== '-') {
  const facts = hostFacts();
  const growth = (result.rss.lastThirdMedian - result.rss.firstThirdMedian) / MIB;
  // Growth while V8 sizes its heap for the load is expected; a leak keeps growing: compare the second half alone.
  const late = result.rss.samples.slice(Math.floor(result.rss.samples.length / 2)).map((s) => s.rss);
  const secondHalf = { min: Math.min(...late), max: Math.max(...late) };
  const body = [
    `Command: \`npm run build && ${command}\`. Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    factsMarkdown({
      CPUs: `${facts.cpus} × ${facts.cpuModel}`,
      memory: facts.memory,
      kernel: facts.kernel,
      node: facts.node,
    }),
    '',
    'What runs (lab/soak.ts; `npm test` runs a 2-cycle in-process version, test/hardening/soak.test.ts): ' +
      'dns-tuner as `node dist/main.js`, namespaces from list+watch against the fake API server, config and ' +
      'certificate in ConfigMap/Secret-style volumes (`..data` symlink swaps). Keep-alive HTTPS clients post ' +
      'reviews back to back (trusting only the test CA, server name `dns-tuner.dns-tuner.svc`), each with a fresh ' +
      'uid, while a cycle repeats: rotate the certificate, edit the config (ndots 2 ↔ 4), create a labelled ' +
      'namespace, relabel it to `options-only`, expire the watch, write an invalid config (ndots 99), rotate ' +
      'again, drop the watch connection, label and unlabel `legacy`, delete the new namespace. After each change ' +
      `the soak waits (at most ${SETTLE_MS / 1000} s) until fresh reviews show it (the new certificate on a new ` +
      'connection, the new ' +
      'ndots, the new policy…), or for an invalid config that it was rejected and the last good one kept. At the ' +
      'end: SIGTERM; the clients keep sending until 0.5 s after /readyz turns 503, then stop. A review counts as ' +
      'failed unless it got a 200 AdmissionReview echoing its uid (a `shop` review without a patch counts as a ' +
      'problem too). RSS is read from /proc/<pid>/status, the V8 heap from the server’s own /metrics. Namespace ' +
      'changes reach the cache through the watch: after the watch is cut or expires, the source waits out a ' +
      'client-go-style backoff (full jitter up to 30 s, reset after 2 quiet minutes) before it re-lists or re-watches; ' +
      'with two disruptions per cycle that backoff saturates, which the "longest wait" line shows.',
    '',
    summary,
    `- RSS growth, last-third median − first-third median: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB; ` +
      `in the second half of the run RSS stayed within ${(secondHalf.min / MIB).toFixed(1)}–` +
      `${(secondHalf.max / MIB).toFixed(1)} MiB (${((secondHalf.max - secondHalf.min) / MIB).toFixed(1)} MiB apart)`,
    '',
    'Memory of the server process, median per tenth of the run:',
    '',
    memoryTrend(result),
    '',
    `Result: ${ok ? 'passed' : '**FAILED**'}.`,
  ].join('\n');
  writeMarkedSection(args.out, 'soak', 'Soak', body);
  process.stderr.write(`soak: wrote ${args.out}\n`);
}
process.exit(ok ? 0 : 1);
