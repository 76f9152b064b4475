/**
 * What one review ends in. One vocabulary for the whole product: the same `decision` words are the
 * `dns_tuner_reviews_total{decision}` label, the per-review log line's `decision`, the dry-run report's `decision`
 * and `dns_tuner_dry_run_requests_total{result}` for pods.
 */
import type { AdmissionReviewResponse } from '../admission/review.ts';
import type { DecideInput } from '../core/decide.ts';
import type { Decision as EngineDecision } from '../core/types.ts';

export const DECISIONS = ['mutated', 'unchanged', 'dry-run', 'skipped', 'error'] as const;
export type ReviewDecision = (typeof DECISIONS)[number];

/**
 * Reasons the review itself gives, besides the engine's (SKIP_REASONS, ACTION_REASON in src/core): requests that are
 * not a readable pod create, and its own failure.
 */
export const REQUEST_REASONS = ['not-a-pod', 'not-create', 'subresource', 'invalid-pod', 'no-namespace'] as const;
export const INTERNAL_ERROR_REASON = 'internal-error';
export type RequestReason = (typeof REQUEST_REASONS)[number];

/** The engine's verb for what to do → the review's word for what was done. */
export const DECISION_OF_ACTION = {
  mutate: 'mutated',
  'dry-run': 'dry-run',
  unchanged: 'unchanged',
  skip: 'skipped',
} as const satisfies Record<EngineDecision['action'], ReviewDecision>;

export interface ReviewOutcome {
  /** The AdmissionReview /mutate answers with (always allowed). */
  response: AdmissionReviewResponse;
  decision: ReviewDecision;
  reason: string;
  policy: string | undefined;
  /** Bounded for the metric: a configured policy name, '' or 'unknown' (a namespace label can hold anything). */
  policyLabel: string;
  patchOps: number;
  detail?: string | undefined;
  /** The unexpected failure behind decision `error` (logged; the pod was admitted unchanged). */
  error?: unknown;
  /** When the engine ran: what it was given and what it decided (the dry-run report is built from these). */
  engine?: { input: DecideInput; decision: EngineDecision } | undefined;
}
