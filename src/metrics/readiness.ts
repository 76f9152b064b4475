/**
 * `dns_tuner_ready{check}`: what /readyz says, one series per readiness check (1 passing, 0 failing), evaluated at
 * scrape time. An unready replica is still scraped (Prometheus discovers not-ready endpoints too), so an alert can
 * tell "up but unready" — and which check fails — without kube-state-metrics.
 */
import { Gauge, type Registry } from 'prom-client';
import { type ReadinessCheck, runCheck } from '../health/readiness.ts';

/** A check that has not answered by then counts as failing (as on /readyz). */
const CHECK_TIMEOUT_MS = 1_000;

/** `checks` is read at every scrape, like /readyz reads it. */
export function createReadinessMetrics(registry: Registry, checks: readonly ReadinessCheck[]): void {
  new Gauge({
    name: 'dns_tuner_ready',
    help: '1 when the readiness check passes, 0 when it fails (the /readyz checks: namespaces, cluster-facts, certificate, shutdown).',
    labelNames: ['check'] as const,
    registers: [registry],
    async collect() {
      const reports = await Promise.all(checks.map((c) => runCheck(c, CHECK_TIMEOUT_MS)));
      this.reset();
      for (const report of reports) this.set({ check: report.name }, report.ok ? 1 : 0);
    },
  });
}
