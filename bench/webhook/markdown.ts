/** The Markdown of the webhook benchmark: setup, goals met or not, and one table per experiment. */
import { fixed, machine, mib, table } from '../report.ts';
import type { Usage } from '../server.ts';
import { type Cell, MAIN_NAMESPACES, type NamespaceRow, type SizeRow, SPREAD } from './experiments.ts';
import type { Flags, PodName } from './flags.ts';
import type { Summary } from './rounds.ts';

export interface Results {
  flags: Flags;
  command: string;
  date: string;
  loadBefore: string;
  loadAfter: string;
  cells: Cell[];
  sizes: SizeRow[];
  namespaces: NamespaceRow[];
  oursIdle: Usage | undefined;
}

const POD_LABEL: Record<PodName, string> = {
  small: 'small',
  typical: 'typical Deployment',
  large: '1.5 MiB',
};

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${fixed(bytes / (1024 * 1024), 2)} MiB` : `${fixed(bytes / 1024, 1)} KiB`;
}

/** One row per goal: what it asks, what was measured, and whether it is met. */
function goals(r: Results): string[][] {
  const rows: string[][] = [];
  const typical = (c: number) => r.cells.find((x) => x.pod === 'typical' && x.connections === c);
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const t32 = typical(32);
  const throughputGoal = "≥ 80 % of the limit's throughput at c=32, typical pod";
  rows.push(
    t32
      ? [
          throughputGoal,
          `${fixed((t32.ours.rps / t32.limit.rps) * 100, 0)} % (${fixed(t32.ours.rps, 0)} vs ${fixed(t32.limit.rps, 0)} req/s)`,
          verdict(t32.ours.rps >= 0.8 * t32.limit.rps),
        ]
      : [throughputGoal, 'not measured (needs `typical` and c=32)', ''],
  );
  const t8 = typical(8);
  const latencyGoal = "p99 at c=8 within 1 ms of the limit's, typical pod";
  rows.push(
    t8
      ? [
          latencyGoal,
          `${fixed(t8.ours.p99)} vs ${fixed(t8.limit.p99)} ms (Δ ${fixed(t8.ours.p99 - t8.limit.p99)} ms)`,
          verdict(t8.ours.p99 - t8.limit.p99 <= 1),
        ]
      : [latencyGoal, 'not measured (needs `typical` and c=8)', ''],
  );
  const ours = [...r.cells.map((c) => c.ours), ...r.sizes.map((s) => s.ours), ...r.namespaces.map((n) => n.ours)];
  const limit = [...r.cells.map((c) => c.limit), ...r.sizes.map((s) => s.limit)];
  const bad = (list: Summary[]) => list.reduce((a, s) => a + s.non2xx + s.failures, 0);
  const completed = ours.reduce((a, s) => a + s.completed, 0);
  rows.push([
    'no non-2xx',
    `ours: ${bad(ours)} non-2xx or failed in ${completed.toLocaleString('en')} reviews (limit: ${bad(limit)})`,
    verdict(bad(ours) === 0),
  ]);
  const rssGoal = 'RSS under 100 MiB with 10,000 namespaces cached';
  const typicalCells = r.cells.filter((c) => c.pod === 'typical');
  if (typicalCells.length > 0) {
    const peak = Math.max(...typicalCells.map((c) => c.ours.peakRss));
    const limitPeak = Math.max(...typicalCells.map((c) => c.limit.peakRss));
    const idle = r.oursIdle ? `; idle after GC ${mib(r.oursIdle.rss)} MiB` : '';
    rows.push([
      rssGoal,
      `peak ${mib(peak)} MiB under load with the typical pod, all concurrencies (limit: ${mib(limitPeak)} MiB)${idle}`,
      verdict(peak < 100 * 1024 * 1024),
    ]);
  } else {
    rows.push([rssGoal, 'not measured (needs `typical`)', '']);
  }
  if (r.sizes.length >= 2) {
    const first = r.sizes[0]!;
    const last = r.sizes.at(-1)!;
    const own = (row: SizeRow) => row.ours.cpuPer1k - row.limit.cpuPer1k;
    const sizeRatio = last.bytes / first.bytes;
    const costRatio = own(last) / own(first);
    rows.push([
      'cost at most linear in pod size',
      `${first.containers} → ${last.containers} containers: review × ${fixed(sizeRatio, 1)}, our own CPU per review × ${fixed(costRatio, 1)} (${fixed(own(first) / 1000, 3)} → ${fixed(own(last) / 1000, 3)} ms)`,
      verdict(costRatio <= sizeRatio),
    ]);
  }
  if (r.namespaces.length >= 2) {
    const first = r.namespaces[0]!;
    const last = r.namespaces.at(-1)!;
    // "Flat": within 25 % or 0.05 ms, whichever is larger — the noise of one-connection runs on a shared machine.
    const flat = (a: number, b: number) => Math.abs(b - a) <= Math.max(0.25 * a, 0.05);
    rows.push([
      'latency flat in namespace count',
      `p50 ${fixed(first.ours.p50)} ms with ${first.namespaces.toLocaleString('en')} namespaces, ${fixed(last.ours.p50)} ms with ${last.namespaces.toLocaleString('en')}; CPU ${fixed(first.ours.cpuPer1k / 1000, 3)} → ${fixed(last.ours.cpuPer1k / 1000, 3)} ms per review`,
      verdict(flat(first.ours.p50, last.ours.p50)),
    ]);
  }
  return rows;
}

export function markdown(r: Results): string {
  const m = machine();
  const out: string[] = [];
  out.push(
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memory}; Node ${m.node}.`,
    `- Command: \`${r.command}\` (${r.flags.duration} s per run after a ${fixed(r.flags.warmup, 1)} s warm-up, ${r.flags.rounds} A/B round${r.flags.rounds === 1 ? '' : 's'}, medians).`,
    `- Date: ${r.date}. Load average (1, 5, 15 min) before: ${r.loadBefore}; after: ${r.loadAfter}.`,
    '- Setup: each server is a child process; autocannon (one thread, keep-alive, no pipelining) runs in the parent.',
    `  Server and load generator share the machine's ${m.cpus} cores, so at high concurrency the load generator's own`,
    '  CPU caps what either server can show; the "server CPU" column says how busy the server was (100 % = one core).',
    '- Ours: `buildWebhookApp` as `src/main.ts` wires it (example config, info-level JSON log line per review written',
    `  synchronously to /dev/null, Prometheus metrics with process metrics, ${MAIN_NAMESPACES.toLocaleString('en')} namespaces cached).`,
    '  The limit: bare `node:https` with the same certificate and TLS/HTTP options; reads the body, `JSON.parse`s it and',
    '  writes the very bytes ours answered for that pod (so both send identical responses).',
    '',
  );
  if (r.flags.quick) {
    out.push(
      '> Quick smoke run (`--quick`): it checks the harness; its numbers are too short-lived to judge the goals.',
      '',
    );
  }
  if (r.cells.length > 0 || r.sizes.length > 0 || r.namespaces.length > 0) {
    out.push('### Goals', '', table(['goal', 'measured', ''], goals(r), '---|---|---'), '');
  }
  if (r.cells.length > 0) {
    out.push(
      '### Throughput and latency',
      '',
      'Per pod size and concurrency: ours / the limit. Latency is the full request time seen by the client.',
      '',
      table(
        [
          'pod',
          'c',
          'req/s ours / limit',
          'ours/limit',
          'p50 ms ours / limit',
          'p99 ms ours / limit',
          'Δp99 ms',
          'non-2xx + errors',
          'peak RSS MiB',
          'CPU ms per 1k reviews',
          'server CPU %',
        ],
        r.cells.map((c) => [
          `${POD_LABEL[c.pod]} (${kib(c.bytes)})`,
          String(c.connections),
          `${fixed(c.ours.rps, 0)} / ${fixed(c.limit.rps, 0)}`,
          `${fixed((c.ours.rps / c.limit.rps) * 100, 0)} %`,
          `${fixed(c.ours.p50)} / ${fixed(c.limit.p50)}`,
          `${fixed(c.ours.p99)} / ${fixed(c.limit.p99)}`,
          fixed(c.ours.p99 - c.limit.p99),
          `${c.ours.non2xx + c.ours.failures} / ${c.limit.non2xx + c.limit.failures}`,
          `${mib(c.ours.peakRss)} / ${mib(c.limit.peakRss)}`,
          `${fixed(c.ours.cpuPer1k, 0)} / ${fixed(c.limit.cpuPer1k, 0)}`,
          `${fixed(c.ours.cpuPct, 0)} / ${fixed(c.limit.cpuPct, 0)}`,
        ]),
      ),
      '',
    );
  }
  if (r.sizes.length > 0) {
    const first = r.sizes[0]!;
    const own = (row: SizeRow) => row.ours.cpuPer1k - row.limit.cpuPer1k;
    out.push(
      '### Cost vs pod size',
      '',
      'The typical pod with 1 → 50 application containers, one connection. "Ours − limit" is the CPU dns-tuner adds',
      'on top of reading and parsing the review; "× size" and "× cost" compare each row with the first.',
      '',
      table(
        [
          'containers',
          'review',
          'p50 ms ours / limit',
          'p99 ms ours / limit',
          'CPU ms per 1k ours / limit',
          'ours − limit',
          '× size',
          '× cost (ours − limit)',
        ],
        r.sizes.map((row) => [
          String(row.containers),
          kib(row.bytes),
          `${fixed(row.ours.p50)} / ${fixed(row.limit.p50)}`,
          `${fixed(row.ours.p99)} / ${fixed(row.limit.p99)}`,
          `${fixed(row.ours.cpuPer1k, 0)} / ${fixed(row.limit.cpuPer1k, 0)}`,
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
      `The typical pod, one connection, reviews spread over ${SPREAD} namespaces of the cache; a fresh server per count.`,
      'Idle memory is read after a full GC, before any load.',
      '',
      table(
        [
          'namespaces cached',
          'idle RSS MiB',
          'idle heap MiB',
          'p50 ms',
          'p99 ms',
          'req/s',
          'CPU ms per 1k',
          'peak RSS MiB',
        ],
        r.namespaces.map((n) => [
          n.namespaces.toLocaleString('en'),
          mib(n.idleRss),
          mib(n.idleHeap),
          fixed(n.ours.p50),
          fixed(n.ours.p99),
          fixed(n.ours.rps, 0),
          fixed(n.ours.cpuPer1k, 0),
          mib(n.ours.peakRss),
        ]),
      ),
      '',
    );
  }
  return out.join('\n');
}
