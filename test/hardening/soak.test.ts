/**
 * The short soak (the long one is `npm run soak`, bench/soak.ts; both run lab/soak.ts): dns-tuner started
 * in-process with namespaces from the fake API server, config and certificate in ConfigMap/Secret-style volumes,
 * four keep-alive clients posting reviews back to back over HTTPS while the certificate is rotated, the config edited
 * (valid and invalid), namespaces created, relabelled and deleted, and watches expired and dropped — two full cycles
 * of all that, then stop(drain) with the clients still sending until shortly after /readyz fails.
 *
 * Every review must get a 200 AdmissionReview echoing its uid, and every change must show in the next reviews
 * (bounded waits only: no timing assertion).
 *
 * Memory, two checks. (1) The leak check: the V8 heap in use right after a full GC, taken at the end of each cycle,
 * may grow by less than 16 MiB from the first cycle's end to the last (measured: +1 MiB over ~10k reviews). Keeping
 * ~3 KB per review, per connection or per namespace lookup crosses that; a few objects leaked per reload do not, and
 * show only as a trend in the long soak. (2) RSS, the number an operator sees, sampled every 0.2 s: in-process it is
 * the whole test process (vitest, the clients, the fake API server and dns-tuner), and in its first seconds V8 is
 * still growing its heap towards a steady size — measured here +10 to +80 MiB between the first and the last third of
 * a 15 s run, while the long soak (child process) shows RSS flat once warmed up. So the RSS bound, last-third median
 * within +150 MiB of the first-third median, only catches runaway growth; the RSS trend over minutes is reported by
 * `npm run soak` (docs/benchmarks.md).
 */
import { describe, expect, it } from 'vitest';
import { formatSoakSummary, runSoak } from '../../lab/soak.ts';

const MIB = 1024 * 1024;

describe('soak (short)', () => {
  it('answers every review while certificates rotate, config changes and namespaces churn, then drains', async () => {
    const result = await runSoak({
      server: 'in-process',
      durationMs: 0,
      minCycles: 2,
      clients: 4,
      stepPauseMs: 100,
      sampleEveryMs: 200,
      drainSeconds: 2,
      // The namespace source's backoff after the disrupted watches reaches a 6.4 s ceiling in the second cycle.
      settleTimeoutMs: 15_000,
      endpointRemovalMs: 300,
    });
    console.log(`soak (short):\n${formatSoakSummary(result)}`);

    expect(result.failureSamples).toEqual([]);
    expect(result.failures).toBe(0);
    expect(result.problems).toEqual([]);
    expect(result.cycles).toBeGreaterThanOrEqual(2);
    expect(result.reviews).toBeGreaterThan(0);
    expect(result.stop.clean).toBe(true);
    expect(result.stop.reviewsDuringDrain).toBeGreaterThan(0);

    // Every change happened and the server saw each one (reloads counted by its own metrics).
    expect(result.changes.certRotations).toBe(2 * result.cycles);
    expect(result.metrics.certificateReloads).toEqual({ ok: result.changes.certRotations, failed: 0 });
    expect(result.metrics.configReloads).toEqual({
      ok: result.changes.configValid,
      failed: result.changes.configInvalid,
    });
    expect(result.changes.configInvalid).toBe(result.cycles);
    expect(result.metrics.relists.expired).toBeGreaterThanOrEqual(result.changes.expiredWatches);
    const restarts = Object.values(result.metrics.watchRestarts).reduce((a, b) => a + b, 0);
    expect(restarts).toBeGreaterThanOrEqual(result.changes.expiredWatches + result.changes.droppedWatches);
    expect(result.serverLog.warnings['review failed, pod admitted unchanged']).toBeUndefined();

    // Memory (see the header): what is still referenced after a full GC must not grow with the reviews served, and
    // RSS must not run away.
    expect(result.heapAfterGc).toHaveLength(result.cycles);
    const heapGrowth = result.heapAfterGc.at(-1)! - result.heapAfterGc[0]!;
    expect(heapGrowth).toBeLessThan(16 * MIB);
    expect(result.rss.samples.length).toBeGreaterThanOrEqual(3);
    expect(result.rss.lastThirdMedian - result.rss.firstThirdMedian).toBeLessThan(150 * MIB);
  }, 180_000);
});
