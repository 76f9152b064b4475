/**
 * `npm run bench:webhook -- --check`: the regression guard. A short run of dns-tuner against the job limit — the
 * cells of bench/webhook/floors.json, each in alternating A/B rounds (ours, job, job, ours, …), medians — compared
 * with the floors recorded there. Exits 1 when a ratio falls below its floor or memory rises above its ceiling, so a
 * change that makes a review costlier fails where it is made. A benchmark command, not a timed unit test: it needs
 * the machine to itself for ~1 minute and is not part of `npm test`.
 *
 * Throughput on a shared machine is noisy; CPU per review is steadier, so each cell is judged by both: the median
 * throughput ratio and the median CPU ratio must each stay above the floor. The floors sit below the recorded run
 * (docs/benchmarks.md) by a margin measured on the project's 2-core machine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EXAMPLE_CONFIG, ROOT } from '../../lab/paths.ts';
import { podReview, reviewBytes, SMALL, TYPICAL } from '../../lab/pod-reviews.ts';
import { defaultPolicyNamespaces } from '../namespaces.ts';
import { fixed, mib, table } from '../report.ts';
import { startCluster } from './cluster.ts';
import { type Bench, MAIN_NAMESPACES, PRIME_SECONDS } from './experiments.ts';
import { abRounds, progress, summarize } from './rounds.ts';
import type { BenchServer } from './servers.ts';

export const FLOORS_FILE = join(ROOT, 'bench/webhook/floors.json');

const floorsSchema = z.object({
  cells: z.array(
    z.object({
      pod: z.enum(['small', 'typical']),
      connections: z.number().int().positive(),
      /** ours ÷ job, req/s. */
      minThroughputRatio: z.number().positive(),
      /** job ÷ ours, CPU µs per review. */
      minCpuRatio: z.number().positive(),
      /** ours − job, p99 ms; absent: not checked. */
      maxP99DeltaMs: z.number().optional(),
    }),
  ),
  maxIdleRssMiB: z.number().positive(),
  maxPeakRssMiB: z.number().positive(),
});
export type Floors = z.infer<typeof floorsSchema>;

export function readFloors(file = FLOORS_FILE): Floors {
  const parsed = floorsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.message}`);
  return parsed.data;
}

const MIB = 1024 * 1024;

/** Runs the guard; resolves with the exit code (0 all floors held, 1 a regression). */
export async function runCheck({ flags, load, servers }: Bench): Promise<number> {
  const floors = readFloors();
  const cluster = await startCluster(MAIN_NAMESPACES);
  const started: BenchServer[] = [];
  try {
    const ours = await servers.startOurs({
      main: servers.main(undefined),
      build: '',
      kubeconfig: cluster.kubeconfigPath,
      config: EXAMPLE_CONFIG,
    });
    started.push(ours);
    const job = await servers.startLimit('job', MAIN_NAMESPACES);
    started.push(job);
    await new Promise((r) => setTimeout(r, 3_000));
    const idle = ours.usage().rss;
    const [namespace] = defaultPolicyNamespaces(MAIN_NAMESPACES, 1);
    const bodies = {
      small: reviewBytes(podReview(SMALL, { namespace: namespace! })),
      typical: reviewBytes(podReview(TYPICAL, { namespace: namespace! })),
    };
    const rows: string[][] = [];
    let failed = false;
    const judge = (what: string, measured: number, limit: number, ok: boolean, unit = '') => {
      failed ||= !ok;
      rows.push([what, `${fixed(measured)}${unit}`, `${fixed(limit)}${unit}`, ok ? 'ok' : '**REGRESSION**']);
    };
    // Each pod shape once, before its first cell (as bench:webhook does).
    const primed = new Set<string>();
    for (const cell of floors.cells) {
      const body = bodies[cell.pod];
      const answer = await load.preflight(ours, body, true);
      if ((await load.preflight(job, body, true)) !== answer) throw new Error('the job limit answers differently');
      if (!primed.has(cell.pod)) {
        for (const server of started) await load.warm(server, [body], 32, PRIME_SECONDS);
        primed.add(cell.pod);
      }
      const contenders = [
        { server: ours, bodies: [body] },
        { server: job, bodies: [body] },
      ];
      const [o, j] = await abRounds(`check ${cell.pod}`, contenders, cell.connections, flags, load);
      const ourSummary = summarize(o!);
      const jobSummary = summarize(j!);
      const name = `${cell.pod} c=${cell.connections}`;
      const throughput = ourSummary.rps / jobSummary.rps;
      const cpu = jobSummary.cpuPerReview / ourSummary.cpuPerReview;
      judge(
        `${name}: throughput ours ÷ job`,
        throughput,
        cell.minThroughputRatio,
        throughput >= cell.minThroughputRatio,
      );
      judge(`${name}: CPU per review job ÷ ours`, cpu, cell.minCpuRatio, cpu >= cell.minCpuRatio);
      if (cell.maxP99DeltaMs !== undefined) {
        const delta = ourSummary.p99 - jobSummary.p99;
        judge(`${name}: p99 ours − job`, delta, cell.maxP99DeltaMs, delta <= cell.maxP99DeltaMs, ' ms');
      }
      const bad = ourSummary.non2xx + ourSummary.failures;
      judge(`${name}: non-2xx or failed`, bad, 0, bad === 0);
    }
    const peak = ours.usage().hwm;
    judge('idle RSS, MiB', idle / MIB, floors.maxIdleRssMiB, idle / MIB <= floors.maxIdleRssMiB);
    judge('peak RSS (VmHWM), MiB', peak / MIB, floors.maxPeakRssMiB, peak / MIB <= floors.maxPeakRssMiB);
    process.stdout.write(
      `${table(['check', 'measured', 'floor / ceiling', ''], rows, '---|--:|--:|---')}\n\n` +
        `${failed ? 'bench:webhook --check: REGRESSION' : 'bench:webhook --check: every floor held'} ` +
        `(${flags.rounds} rounds of ${flags.duration} s; idle ${mib(idle)} MiB; floors in ${FLOORS_FILE})\n`,
    );
    return failed ? 1 : 0;
  } finally {
    for (const server of started) await servers.stop(server);
    await cluster.close();
    progress('bench:webhook --check: done');
  }
}
