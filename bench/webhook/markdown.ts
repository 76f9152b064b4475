/** The Markdown of the webhook benchmark: setup, goals met or not, and one table per experiment. */
import { fixed, machine, mib, table } from '../report.ts';
import type { Cell, MainResults, NamespaceRow, SizeRow } from './experiments.ts';
import { MAIN_NAMESPACES, PRIME_SECONDS, SPREAD } from './experiments.ts';
import type { Flags, PodName } from './flags.ts';
import type { Summary } from './rounds.ts';

export interface Results {
  flags: Flags;
  command: string;
  date: string;
  loadBefore: string;
  loadAfter: string;
  layout: string;
  nodeOptions: string;
  main: MainResults | undefined;
  namespaces: NamespaceRow[];
}

const POD_LABEL: Record<PodName, string> = {
  small: 'small',
  typical: 'typical',
  large: '1.5 MiB',
};

export function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${fixed(bytes / (1024 * 1024), 2)} MiB` : `${fixed(bytes / 1024, 1)} KiB`;
}

const pct = (ratio: number) => `${fixed(ratio * 100, 0)} %`;
/** ours / limit in throughput, and the same from CPU per review (limit's / ours: the capacity ratio). */
const throughputRatio = (ours: Summary, limit: Summary) => ours.rps / limit.rps;
const cpuRatio = (ours: Summary, limit: Summary) => limit.cpuPerReview / ours.cpuPerReview;
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');

/** One row per goal: what it asks, what was measured, and whether it is met. */
function goals(r: Results): string[][] {
  const rows: string[][] = [];
  const cells = r.main?.cells ?? [];
  const cell = (pod: PodName, c: number) => cells.find((x) => x.pod === pod && x.connections === c);
  const throughput = (pod: PodName, c: number, floor: number) => {
    const goal = `≥ ${fixed(floor * 100, 0)} % of the job limit's throughput, ${POD_LABEL[pod]} pod, c=${c}`;
    const x = cell(pod, c);
    if (!x) return [goal, `not measured (needs \`${pod}\` and c=${c})`, ''];
    const ratio = throughputRatio(x.ours, x.job);
    return [
      goal,
      `${pct(ratio)} (${fixed(x.ours.rps, 0)} vs ${fixed(x.job.rps, 0)} req/s); by CPU per review ${pct(cpuRatio(x.ours, x.job))} (${fixed(x.ours.cpuPerReview, 0)} vs ${fixed(x.job.cpuPerReview, 0)} µs)`,
      verdict(ratio >= floor),
    ];
  };
  rows.push(throughput('small', 32, 0.9), throughput('typical', 32, 0.9));
  rows.push(throughput('small', 8, 0.8), throughput('typical', 8, 0.8));
  rows.push(throughput('large', 32, 0.8), throughput('large', 8, 0.8));
  for (const pod of ['small', 'typical'] as const) {
    const goal = `p99 at c=8 within 1 ms of the job limit's, ${POD_LABEL[pod]} pod`;
    const x = cell(pod, 8);
    rows.push(
      x
        ? [
            goal,
            `${fixed(x.ours.p99)} vs ${fixed(x.job.p99)} ms (Δ ${fixed(x.ours.p99 - x.job.p99)} ms)`,
            verdict(x.ours.p99 - x.job.p99 <= 1),
          ]
        : [goal, 'not measured', ''],
    );
  }
  const memory = r.main?.memory;
  if (memory) {
    rows.push([
      `idle RSS under 100 MiB, ${MAIN_NAMESPACES.toLocaleString('en')} namespaces watched`,
      `${mib(memory.ours.idle)} MiB (job limit: ${mib(memory.job.idle)} MiB)`,
      verdict(memory.ours.idle < 100 * 1024 * 1024),
    ]);
    if (memory.ours.peakTypical32 !== undefined) {
      rows.push([
        `peak RSS under 128 MiB at c=32 (typical pod), ${MAIN_NAMESPACES.toLocaleString('en')} namespaces watched`,
        `VmHWM ${mib(memory.ours.peakTypical32)} MiB, start-up included, of the fresh process after typical reviews at c=32 (job limit: ${mib(memory.job.peakTypical32 ?? 0)} MiB); later cells (c=100, 1.5 MiB pods) raise it: see the table`,
        verdict(memory.ours.peakTypical32 < 128 * 1024 * 1024),
      ]);
    }
  }
  for (const row of r.main?.equalLoad ?? []) {
    rows.push([
      `(the fair cost) CPU per review at the same pace as the job limit, ${POD_LABEL[row.pod]} pod`,
      `${fixed(row.ours.cpuPerReview, 0)} vs ${fixed(row.job.cpuPerReview, 0)} µs at ${row.rate} reviews/s: the job limit's work is ${pct(cpuRatio(row.ours, row.job))} of ours`,
      '',
    ]);
  }
  const ours = [
    ...cells.map((c) => c.ours),
    ...(r.main?.sizes ?? []).map((s) => s.ours),
    ...r.namespaces.map((n) => n.ours),
  ];
  if (ours.length > 0) {
    const bad = ours.reduce((a, s) => a + s.non2xx + s.failures, 0);
    const completed = ours.reduce((a, s) => a + s.completed, 0);
    const lines = ours.reduce((a, s) => a + (s.linesPerReview ?? 0) * s.completed, 0);
    rows.push([
      'every review answered 200, one log line each',
      `${bad} non-2xx or failed in ${completed.toLocaleString('en')} reviews; ${fixed(lines / completed, 3)} log lines per review`,
      verdict(bad === 0 && Math.abs(lines / completed - 1) < 0.001),
    ]);
  }
  const sizes = r.main?.sizes ?? [];
  if (sizes.length >= 2) {
    const first = sizes[0]!;
    const last = sizes.at(-1)!;
    const own = (row: SizeRow) => row.ours.cpuPerReview - row.job.cpuPerReview;
    const sizeRatio = last.bytes / first.bytes;
    const costRatio = own(last) / own(first);
    rows.push([
      'cost at most linear in pod size',
      `${first.containers} → ${last.containers} containers: review × ${fixed(sizeRatio, 1)}, CPU above the job limit × ${fixed(costRatio, 1)} (${fixed(own(first), 0)} → ${fixed(own(last), 0)} µs per review)`,
      verdict(costRatio <= sizeRatio),
    ]);
  }
  if (r.namespaces.length >= 2) {
    const first = r.namespaces[0]!;
    const last = r.namespaces.at(-1)!;
    // "Flat": within 25 % or 50 µs, whichever is larger — the noise of one-connection runs on a shared machine.
    const flat = (a: number, b: number) => Math.abs(b - a) <= Math.max(0.25 * a, 50);
    rows.push([
      'CPU per review flat in namespace count',
      `${fixed(first.ours.cpuPerReview, 0)} µs with ${first.namespaces.toLocaleString('en')} namespaces, ${fixed(last.ours.cpuPerReview, 0)} µs with ${last.namespaces.toLocaleString('en')}; p50 ${fixed(first.ours.p50)} → ${fixed(last.ours.p50)} ms`,
      verdict(flat(first.ours.cpuPerReview, last.ours.cpuPerReview)),
    ]);
  }
  return rows;
}

function mainTable(cells: readonly Cell[]): string {
  const hasBaseline = cells.some((c) => c.baseline !== undefined);
  const header = [
    'pod',
    'c',
    'req/s ours / job / bare',
    'ours ÷ job',
    'ours ÷ bare',
    'CPU µs per review ours / job / bare',
    'ours ÷ job by CPU',
    'server CPU % ours / job',
    'p50 ms ours / job',
    'p99 ms ours / job',
    'Δp99 ms',
    'peak RSS MiB ours / job',
    'log lines per review',
    ...(hasBaseline ? ['baseline req/s', 'baseline CPU µs', 'ours ÷ baseline'] : []),
  ];
  return table(
    header,
    cells.map((c) => [
      `${POD_LABEL[c.pod]} (${kib(c.bytes)})`,
      String(c.connections),
      `${fixed(c.ours.rps, 0)} / ${fixed(c.job.rps, 0)} / ${fixed(c.bare.rps, 0)}`,
      pct(throughputRatio(c.ours, c.job)),
      pct(throughputRatio(c.ours, c.bare)),
      `${fixed(c.ours.cpuPerReview, 0)} / ${fixed(c.job.cpuPerReview, 0)} / ${fixed(c.bare.cpuPerReview, 0)}`,
      pct(cpuRatio(c.ours, c.job)),
      `${fixed(c.ours.cpuPct, 0)} / ${fixed(c.job.cpuPct, 0)}`,
      `${fixed(c.ours.p50)} / ${fixed(c.job.p50)}`,
      `${fixed(c.ours.p99)} / ${fixed(c.job.p99)}`,
      fixed(c.ours.p99 - c.job.p99),
      `${mib(c.ours.peakRss)} / ${mib(c.job.peakRss)}`,
      fixed(c.ours.linesPerReview ?? Number.NaN, 3),
      ...(c.baseline
        ? [
            fixed(c.baseline.rps, 0),
            fixed(c.baseline.cpuPerReview, 0),
            `${pct(c.ours.rps / c.baseline.rps)} (CPU ${pct(c.baseline.cpuPerReview / c.ours.cpuPerReview)})`,
          ]
        : hasBaseline
          ? ['', '', '']
          : []),
    ]),
  );
}

export function markdown(r: Results): string {
  const m = machine();
  const out: string[] = [];
  out.push(
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memory}; Node ${m.node}.`,
    `- Command: \`${r.command}\` (${r.flags.duration} s per run after a ${fixed(r.flags.warmup, 1)} s warm-up, ${r.flags.rounds} A/B round${r.flags.rounds === 1 ? '' : 's'}, medians).`,
    `- Date: ${r.date}. Load average (1, 5, 15 min) before: ${r.loadBefore}; after: ${r.loadAfter}.`,
    `- Layout: ${r.layout}. Every server runs with the Deployment's \`NODE_OPTIONS=${r.nodeOptions}\`.`,
    "- Load: the benchmark's own client (bench/webhook/client.ts): keep-alive HTTPS connections, one review in flight",
    '  each (as the apiserver calls a webhook), the certificate checked against the Service name.',
    '- **dns-tuner** ("ours"): `node dist/main.js` — the production entry point, wired by `startServer` as in the',
    `  container — with the example config, watching ${MAIN_NAMESPACES.toLocaleString('en')} namespaces through list+watch on the fake Kubernetes API,`,
    '  its JSON log (one line per review, counted) on a pipe the benchmark reads, metrics with process metrics.',
    '- **The job limit** ("job", bench/limit-server.ts): bare `node:https` on the same certificate and server options;',
    `  JSON.parse of the review, the namespace looked up in a ${MAIN_NAMESPACES.toLocaleString('en')}-entry map, the three JSON-patch`,
    "  operations built for this pod and namespace, base64, the answer with the request's uid — byte for byte",
    "  dns-tuner's answer (checked before each pod is measured). Nothing a webhook doing this job could skip.",
    '- **The bare limit** ("bare"): the same server that only JSON.parses the body and writes a constant answer.',
    "- CPU per review: the server process's CPU time (every thread, from /proc) over the reviews answered — the fair",
    '  figure when the load generator, not the server, sets the pace; "by CPU" ratios are the job\'s CPU ÷ ours.',
    `- Settled: every server gets ${PRIME_SECONDS} s of each pod shape before its first measurement (a fresh process needs`,
    "  ~4 s). 1.5 MiB pods beyond ~10 in flight meet dns-tuner's 16 MiB budget of bodies in flight: those get 503",
    '  before the body is read (the apiserver admits the pod untouched) and count as non-2xx, not in req/s.',
    '',
  );
  if (r.flags.quick) {
    out.push(
      '> Quick smoke run (`--quick`): it checks the harness; its numbers are too short-lived to judge the goals.',
      '',
    );
  }
  const rows = goals(r);
  if (rows.length > 0) out.push('### Goals', '', table(['goal', 'measured', ''], rows, '---|---|---'), '');
  const cells = r.main?.cells ?? [];
  if (cells.length > 0) {
    out.push(
      '### Throughput, CPU and latency',
      '',
      'Per pod size and concurrency. Latency is the full request time seen by the client.',
      '',
      mainTable(cells),
      '',
    );
  }
  const equal = r.main?.equalLoad ?? [];
  if (equal.length > 0) {
    out.push(
      '### Cost per review at equal load',
      '',
      'Both servers at the same pace (60 % of what dns-tuner sustained at the highest concurrency), so neither sets the',
      'pace for the client: a server that answers faster keeps the client busier and pays fewer wake-ups per answer, which',
      'flatters it in the saturated table above. This is the cost of the work itself.',
      '',
      table(
        [
          'pod',
          'c',
          'reviews/s',
          'CPU µs per review ours / job',
          'job ÷ ours',
          'p50 ms ours / job',
          'p99 ms ours / job',
        ],
        equal.map((row) => [
          `${POD_LABEL[row.pod]} (${kib(row.bytes)})`,
          String(row.connections),
          `${fixed(row.ours.rps, 0)} / ${fixed(row.job.rps, 0)}`,
          `${fixed(row.ours.cpuPerReview, 0)} / ${fixed(row.job.cpuPerReview, 0)}`,
          pct(cpuRatio(row.ours, row.job)),
          `${fixed(row.ours.p50)} / ${fixed(row.job.p50)}`,
          `${fixed(row.ours.p99)} / ${fixed(row.job.p99)}`,
        ]),
      ),
      '',
    );
  }
  const sizes = r.main?.sizes ?? [];
  if (sizes.length > 0) {
    const first = sizes[0]!;
    const own = (row: SizeRow) => row.ours.cpuPerReview - row.job.cpuPerReview;
    out.push(
      '### Cost vs pod size',
      '',
      'The typical pod with 1 → 50 application containers, one connection. "Ours − job" is the CPU dns-tuner spends',
      'beyond the job limit; "× size" and "× cost" compare each row with the first.',
      '',
      table(
        [
          'containers',
          'review',
          'p50 ms ours / job',
          'p99 ms ours / job',
          'CPU µs per review ours / job',
          'ours − job',
          '× size',
          '× cost (ours − job)',
        ],
        sizes.map((row) => [
          String(row.containers),
          kib(row.bytes),
          `${fixed(row.ours.p50)} / ${fixed(row.job.p50)}`,
          `${fixed(row.ours.p99)} / ${fixed(row.job.p99)}`,
          `${fixed(row.ours.cpuPerReview, 0)} / ${fixed(row.job.cpuPerReview, 0)}`,
          fixed(own(row), 0),
          fixed(row.bytes / first.bytes, 1),
          fixed(own(row) / own(first), 1),
        ]),
      ),
      '',
    );
  }
  if (r.namespaces.length > 0) {
    out.push(
      '### Cost vs namespace count',
      '',
      `The typical pod, one connection, reviews spread over ${SPREAD} namespaces of the cache; a fresh cluster and`,
      'server per count. Idle RSS is read after the namespace cache has synced, before any review.',
      '',
      table(
        ['namespaces watched', 'idle RSS MiB', 'p50 ms', 'p99 ms', 'req/s', 'CPU µs per review', 'peak RSS MiB'],
        r.namespaces.map((n) => [
          n.namespaces.toLocaleString('en'),
          mib(n.idleRss),
          fixed(n.ours.p50),
          fixed(n.ours.p99),
          fixed(n.ours.rps, 0),
          fixed(n.ours.cpuPerReview, 0),
          mib(n.ours.peakRss),
        ]),
      ),
      '',
    );
  }
  return out.join('\n');
}
