/**
 * Metrics and the per-review log line, as a wrapper around the review service (the way slok/kubewebhook wraps a
 * mutator): the service decides, this records. One log line per review with `uid`, `namespace`, `pod`, `decision`,
 * `reason`, `policy`, `latencyMs`, `patchOps`, `warnings` (count) and `detail`; an internal error is logged at error
 * level with the error.
 */
import type { Logger } from 'pino';
import { type AdmissionRequest, podName } from '../admission/review.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ReviewOutcome } from './outcome.ts';
import { isPromise, type MaybePromise, type ReviewService } from './service.ts';

export function instrumentReviews(service: ReviewService, metrics: Metrics, logger: Logger): ReviewService {
  const record = (request: AdmissionRequest, started: bigint, outcome: ReviewOutcome): ReviewOutcome => {
    metrics.requestsInFlight.dec();
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    metrics.reviews.inc({
      decision: outcome.decision,
      reason: outcome.reason,
      policy: outcome.policyLabel,
      server_dry_run: request.dryRun === true ? 'true' : 'false',
    });
    for (const ignored of outcome.engine?.decision.invalidAnnotations ?? []) {
      metrics.invalidAnnotations.inc({ annotation: ignored.annotation });
    }
    metrics.reviewDuration.observe({ decision: outcome.decision }, latencyMs / 1000);
    if (outcome.decision === 'error') metrics.reviewErrors.inc();
    const line = {
      uid: request.uid,
      namespace: request.namespace,
      pod: podName(request.object),
      decision: outcome.decision,
      reason: outcome.reason,
      policy: outcome.policy,
      latencyMs: Math.round(latencyMs * 100) / 100,
      patchOps: outcome.patchOps,
      warnings: outcome.response.response.warnings?.length ?? 0,
      ...(request.dryRun ? { dryRun: true } : {}),
      ...(outcome.detail ? { detail: outcome.detail } : {}),
    };
    if (outcome.error) logger.error({ ...line, err: outcome.error }, 'review failed, pod admitted unchanged');
    else logger.info(line, 'review');
    return outcome;
  };
  return {
    lookupNamespace: service.lookupNamespace,
    // Synchronous when the service is (a cached namespace): no promise between the body and the answer.
    review(request: AdmissionRequest): MaybePromise<ReviewOutcome> {
      const started = process.hrtime.bigint();
      metrics.requestsInFlight.inc();
      let result: MaybePromise<ReviewOutcome>;
      try {
        result = service.review(request);
      } catch (error) {
        metrics.requestsInFlight.dec();
        throw error;
      }
      if (!isPromise(result)) return record(request, started, result);
      return result.then(
        (outcome) => record(request, started, outcome),
        (error: unknown) => {
          metrics.requestsInFlight.dec();
          throw error;
        },
      );
    },
  };
}
