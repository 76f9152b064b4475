/**
 * A/B rounds and their medians: the servers of one cell are measured alternately (A B, B A, A B …) for several rounds,
 * so slow drift of a shared machine lands on all of them, and each is summed up by the medians of its rounds.
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
  non2xx: number;
  failures: number;
  peakRss: number;
  cpuPer1k: number;
  cpuPct: number;
  completed: number;
}

/** Medians over the rounds; error counts summed; peak RSS the maximum. */
export function summarize(samples: readonly Sample[]): Summary {
  const m = (f: (s: Sample) => number) => median(samples.map(f));
  return {
    rps: m((s) => s.rps),
    p50: m((s) => s.p50),
    p99: m((s) => s.p99),
    cpuPer1k: m((s) => s.cpuPer1k),
    cpuPct: m((s) => s.cpuPct),
    non2xx: samples.reduce((a, s) => a + s.non2xx, 0),
    failures: samples.reduce((a, s) => a + s.failures, 0),
    completed: samples.reduce((a, s) => a + s.completed, 0),
    peakRss: Math.max(...samples.map((s) => s.peakRss)),
  };
}

/** A progress line on stderr (stdout carries the Markdown). */
export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function describe(s: Sample): string {
  return `${fixed(s.rps, 0)} req/s, p50 ${fixed(s.p50)} ms, p99 ${fixed(s.p99)} ms, CPU ${fixed(s.cpuPer1k, 0)} ms/1k, RSS ${mib(s.peakRss)} MiB`;
}

/**
 * Alternates the servers over the rounds (A B, B A, A B …) so that slow drift of a shared machine lands on both.
 * `prepare` runs before each server's turn (the limit's constant answer).
 */
export async function abRounds(
  label: string,
  contenders: Array<{ server: BenchServer; bodies: Buffer[]; prepare?: () => Promise<void> }>,
  connections: number,
  flags: Pick<Flags, 'rounds' | 'warmup' | 'duration'>,
  load: LoadGenerator,
): Promise<Sample[][]> {
  const samples: Sample[][] = contenders.map(() => []);
  for (let round = 0; round < flags.rounds; round++) {
    const order = contenders.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const c = contenders[i]!;
      await c.prepare?.();
      await load.warm(c.server, c.bodies, connections, flags.warmup);
      const sample = await load.load(c.server, c.bodies, connections, flags.duration);
      samples[i]!.push(sample);
      progress(`${label} c=${connections} ${c.server.role} round ${round + 1}/${flags.rounds}: ${describe(sample)}`);
    }
  }
  return samples;
}
