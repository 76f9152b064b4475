/**
 * One measured run on one server: the load generator (./client.ts) for a fixed time, the server's CPU time read from
 * /proc before and after, its RSS sampled during the run. Plus the single checked review that precedes every
 * measurement.
 */
import { httpsPost } from '../../lab/client.ts';
import { percentile } from '../../lab/stats.ts';
import { drive } from './client.ts';
import { type BenchServer, targetOf } from './servers.ts';

export interface Sample {
  rps: number;
  p50: number;
  p99: number;
  completed: number;
  non2xx: number;
  /** Connection errors and 2xx bodies that were not an allowed AdmissionReview. */
  failures: number;
  /** Highest RSS sampled during the run. */
  peakRss: number;
  /** Server CPU time (every thread: user + system) per review, µs: the fair figure on a shared machine. */
  cpuPerReview: number;
  /** Server CPU time / wall time: 100 % is one core saturated. */
  cpuPct: number;
  /** dns-tuner only: log lines written per review during the run (1 expected). */
  linesPerReview: number | undefined;
}

export interface LoadGenerator {
  /** One measured run; with `rate` (reviews per second) at that pace instead of as fast as the server goes. */
  load(
    server: BenchServer,
    bodies: readonly Buffer[],
    connections: number,
    seconds: number,
    rate?: number,
  ): Promise<Sample>;
  /** A short discarded run before each measured one: JIT-compiled code and a grown heap on both sides. */
  warm(server: BenchServer, bodies: readonly Buffer[], connections: number, seconds: number): Promise<void>;
  /** One review, checked: 200 and an allowed AdmissionReview, with a patch when `expectPatch`; returns the body. */
  preflight(server: BenchServer, body: Buffer, expectPatch: boolean): Promise<string>;
}

/** Resolves once the server's log has not grown for 50 ms (at most 2 s): its lines of a run are all counted. */
async function logDrained(server: BenchServer): Promise<void> {
  if (server.logLines() === undefined) return;
  const deadline = Date.now() + 2_000;
  let seen = server.logLines();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = server.logLines();
    if (now === seen) return;
    seen = now;
  }
}

/** Clients that trust only `ca` (the bench CA) and check the certificate against the Service name. */
export function loadGenerator(ca: string): LoadGenerator {
  return {
    async load(server, bodies, connections, seconds, rate) {
      await logDrained(server);
      const before = server.usage();
      const linesBefore = server.logLines();
      let peakRss = before.rss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, server.rssNow());
      }, 100);
      const started = performance.now();
      const result = await drive(targetOf(server, ca), bodies, connections, seconds, rate);
      // The log is written asynchronously (and read by this process between answers): count every line of the run.
      await logDrained(server);
      const wall = (performance.now() - started) / 1000;
      clearInterval(sampler);
      const after = server.usage();
      peakRss = Math.max(peakRss, after.rss);
      const linesAfter = server.logLines();
      const sorted = result.latencies.sort();
      const cpuUs = after.cpuUs - before.cpuUs;
      const { completed } = result;
      return {
        rps: (completed - result.non2xx) / result.seconds,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        completed,
        non2xx: result.non2xx,
        failures: result.failures,
        peakRss,
        cpuPerReview: completed > 0 ? cpuUs / completed : Number.NaN,
        cpuPct: (cpuUs / 1e6 / wall) * 100,
        linesPerReview:
          linesBefore === undefined || linesAfter === undefined ? undefined : (linesAfter - linesBefore) / completed,
      };
    },

    async warm(server, bodies, connections, seconds) {
      await drive(targetOf(server, ca), bodies, connections, seconds);
    },

    async preflight(server, body, expectPatch) {
      const target = targetOf(server, ca);
      const { status, body: text } = await httpsPost(target.port, target.path, body, {
        ca,
        servername: target.servername,
      });
      const response = (JSON.parse(text) as { response?: { allowed?: unknown; patchType?: unknown } }).response;
      if (status !== 200 || response?.allowed !== true)
        throw new Error(`preflight (${server.label}): ${status} ${text.slice(0, 300)}`);
      if (expectPatch && response.patchType !== 'JSONPatch')
        throw new Error(`preflight (${server.label}): expected a mutation, got ${text.slice(0, 300)}`);
      return text;
    },
  };
}
