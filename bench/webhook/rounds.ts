/**
 * A/B rounds and their medians: the servers of one cell are measured alternately (A B C, C B A, A B C …) for several
 * rounds, so slow drift of a shared machine lands on all of them, and each is summed up by the medians of its rounds.
 */
import { median } from '../../lab/stats.ts';
import { fixed, mib } from '../report.ts';
import type { Flags } from './flags.ts';
import type { LoadGenerator, Sample } from './load.ts';
import type { BenchServer } from './servers.ts';

export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  cpuPerReview: number;
  cpuPct: number;
  non2xx: number;
  failures: number;
  completed: number;
  /** The highest RSS sampled in any round. */
  peakRss: number;
  /** dns-tuner: log lines per review over all rounds. */
  linesPerReview: number | undefined;
  rounds: number;
}

/** Medians over the rounds; error counts summed; peak RSS the maximum. */
export function summarize(samples: readonly Sample[]): Summary {
  const m = (f: (s: Sample) => number) => median(samples.map(f));
  const completed = samples.reduce((a, s) => a + s.completed, 0);
  const lines = samples.every((s) => s.linesPerReview !== undefined)
    ? samples.reduce((a, s) => a + (s.linesPerReview ?? 0) * s.completed, 0) / completed
    : undefined;
  return {
    rps: m((s) => s.rps),
    p50: m((s) => s.p50),
    p99: m((s) => s.p99),
    cpuPerReview: m((s) => s.cpuPerReview),
    cpuPct: m((s) => s.cpuPct),
    non2xx: samples.reduce((a, s) => a + s.non2xx, 0),
    failures: samples.reduce((a, s) => a + s.failures, 0),
    completed,
    peakRss: samples.reduce((a, s) => Math.max(a, s.peakRss), 0),
    linesPerReview: lines,
    rounds: samples.length,
  };
}

/** A progress line on stderr (stdout carries the Markdown). */
export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function describe(s: Sample): string {
  const bad = s.non2xx + s.failures > 0 ? `, ${s.non2xx} non-2xx, ${s.failures} failed` : '';
  return `${fixed(s.rps, 0)} req/s, p50 ${fixed(s.p50)} ms, p99 ${fixed(s.p99)} ms, CPU ${fixed(s.cpuPerReview, 0)} µs/review (${fixed(s.cpuPct, 0)} %), RSS ${mib(s.peakRss)} MiB${bad}`;
}

export interface Contender {
  server: BenchServer;
  bodies: readonly Buffer[];
  /** Runs before each of this server's turns (the bare limit's constant answer). */
  prepare?: () => Promise<void>;
}

/** Alternates the servers over the rounds (A B C, C B A, …) so that slow drift of a shared machine lands on all. */
export async function abRounds(
  label: string,
  contenders: readonly Contender[],
  connections: number,
  flags: Pick<Flags, 'rounds' | 'warmup' | 'duration'>,
  load: LoadGenerator,
  rate?: number,
): Promise<Sample[][]> {
  const samples: Sample[][] = contenders.map(() => []);
  for (let round = 0; round < flags.rounds; round++) {
    const order = contenders.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const c = contenders[i]!;
      await c.prepare?.();
      await load.warm(c.server, c.bodies, connections, flags.warmup);
      const sample = await load.load(c.server, c.bodies, connections, flags.duration, rate);
      samples[i]!.push(sample);
      const pace = rate === undefined ? '' : ` at ${rate}/s`;
      progress(
        `${label} c=${connections}${pace} ${c.server.label} round ${round + 1}/${flags.rounds}: ${describe(sample)}`,
      );
    }
  }
  return samples;
}
