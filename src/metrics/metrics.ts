/**
 * The webhook's Prometheus metrics, on a Registry the caller owns (never prom-client's global one), so every test
 * and every app instance counts on its own. Names follow controller-runtime's webhook metrics where an equivalent
 * exists (controller_runtime_webhook_requests_in_flight, _latency_seconds — see
 * https://github.com/kubernetes-sigs/controller-runtime/blob/main/pkg/webhook/internal/metrics/metrics.go).
 *
 * Extending: later components create their own metrics with `registers: [metrics.registry]` and add them to their
 * own typed object, or widen `Metrics` here.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import { ANNOTATIONS } from '../core/types.ts';

/** Sub-millisecond (cache hit, pure decision) up to the apiserver's 10 s default webhook timeout. */
export const REVIEW_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Metrics {
  registry: Registry;
  /**
   * One per answered AdmissionReview. `policy` is only ever a configured policy name, '' or 'unknown';
   * `server_dry_run` is "true" for the apiserver's dry-run requests (`kubectl create --dry-run=server`: nothing is
   * persisted, so they are not pods tuned).
   */
  reviews: Counter<'decision' | 'reason' | 'policy' | 'server_dry_run'>;
  /** `dns-tuner.io/*` annotations (and the skip label) not taken as written: typos an operator should see. */
  invalidAnnotations: Counter<'annotation'>;
  reviewDuration: Histogram<'decision'>;
  requestsInFlight: Gauge;
  /** Unexpected failures while deciding (the pod was admitted unchanged). */
  reviewErrors: Counter;
  /** Requests refused with a coded 4xx/5xx error (not AdmissionReviews, too large…). */
  invalidRequests: Counter<'code'>;
  /** POST /dry-run and GET /dry-run/namespaces/{name}: not reviews, so counted apart. */
  dryRunRequests: Counter<'route' | 'result'>;
  buildInfo: Gauge<'version' | 'node'>;
}

export interface MetricsOptions {
  version: string;
  /** Process metrics (CPU, memory, event loop lag, GC); default true. */
  defaultMetrics?: boolean;
}

export function createMetrics(registry: Registry, options: MetricsOptions = { version: 'unknown' }): Metrics {
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    reviews: new Counter({
      name: 'dns_tuner_reviews_total',
      help: 'AdmissionReviews answered, by decision, reason, policy and whether the apiserver only dry-runs them.',
      labelNames: ['decision', 'reason', 'policy', 'server_dry_run'] as const,
      registers,
    }),
    invalidAnnotations: new Counter({
      name: 'dns_tuner_invalid_annotations_total',
      help: 'dns-tuner.io/* annotations (and the skip label) with a value that was not taken as written, by key.',
      labelNames: ['annotation'] as const,
      registers,
    }),
    reviewDuration: new Histogram({
      name: 'dns_tuner_review_duration_seconds',
      help: 'Time from a parsed AdmissionReview to its response, by decision.',
      labelNames: ['decision'] as const,
      buckets: REVIEW_DURATION_BUCKETS,
      registers,
    }),
    requestsInFlight: new Gauge({
      name: 'dns_tuner_requests_in_flight',
      help: 'AdmissionReviews being processed.',
      registers,
    }),
    reviewErrors: new Counter({
      name: 'dns_tuner_review_errors_total',
      help: 'Unexpected errors while reviewing a pod; the pod was admitted unchanged.',
      registers,
    }),
    invalidRequests: new Counter({
      name: 'dns_tuner_invalid_requests_total',
      help: 'Requests to the webhook refused with an error status, by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    dryRunRequests: new Counter({
      name: 'dns_tuner_dry_run_requests_total',
      help: 'Dry-run requests answered, by route (pod, namespace) and result (decision, or bad-input/error).',
      labelNames: ['route', 'result'] as const,
      registers,
    }),
    buildInfo: new Gauge({
      name: 'dns_tuner_build_info',
      help: 'Always 1; labels carry the dns-tuner version and the Node.js version.',
      labelNames: ['version', 'node'] as const,
      registers,
    }),
  };
  metrics.buildInfo.set({ version: options.version, node: process.version }, 1);
  // A series from the first scrape for every key, so increase() sees the first typo too.
  for (const annotation of Object.values(ANNOTATIONS)) metrics.invalidAnnotations.inc({ annotation }, 0);
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return metrics;
}
