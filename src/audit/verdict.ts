/**
 * What the webhook does to a pod created now, through the review service /mutate uses: the pod a rollout creates
 * from its owner's template, or — for a pod with no template to read (a bare pod, an owner of a kind the audit does
 * not know) — the pod as it was created, reconstructed from the running one.
 *
 * DNS fields are immutable after creation, so a running pod without our `dns-tuner.io/applied` annotation still has
 * the fields it was created with. A pod with the annotation was tuned: the webhook replaced its dnsPolicy and merged
 * into its dnsConfig, which cannot be undone exactly; the reconstruction assumes the author wrote no dnsConfig of
 * their own (the common case), and says so (`basis: pod-reconstructed`).
 */
import { type AdmissionRequest, isJsonObject } from '../admission/review.ts';
import { ANNOTATION_APPLIED, type PodDns } from '../core/types.ts';
import { toTarget } from '../dryrun/input.ts';
import { parsePodView } from '../kube/pod.ts';
import type { ReviewDecision, ReviewOutcome } from '../review/outcome.ts';
import type { ReviewService } from '../review/service.ts';
import { ownDns } from './dns.ts';

/** What the review was run on: the owner's pod template, the pod itself, or the pod with our changes undone. */
export type VerdictBasis = 'template' | 'pod' | 'pod-reconstructed';

export interface Verdict {
  /** The review's words, as in /mutate's log line and dns_tuner_reviews_total. */
  decision: ReviewDecision;
  reason: string;
  policy: string | undefined;
  detail: string | undefined;
  /** The DNS fields a pod created now ends up with (the webhook's result, or its own when the webhook leaves it). */
  wouldBe: PodDns | undefined;
  hostNetwork: boolean;
  basis: VerdictBasis;
}

type Json = Record<string, unknown>;

/** The verdict for the pods `kind` creates from `object`'s template (an API object: list items carry no kind). */
export async function templateVerdict(review: ReviewService, kind: string, object: unknown): Promise<Verdict> {
  const target = toTarget(isJsonObject(object) ? { ...object, kind } : object);
  if (!target.ok) return unreadable(target.error.message, 'template');
  return verdictFrom(await review.review(target.value.request), target.value.request, 'template');
}

/** The verdict for the pod as it was created (see the file comment). */
export async function podVerdict(review: ReviewService, raw: Json): Promise<Verdict> {
  const created = createdPod(raw);
  const target = toTarget({ ...created.object, kind: 'Pod' });
  const basis: VerdictBasis = created.reconstructed ? 'pod-reconstructed' : 'pod';
  if (!target.ok) return unreadable(target.error.message, basis);
  return verdictFrom(await review.review(target.value.request), target.value.request, basis);
}

/** The pod before admission: itself, or with dns-tuner's dnsPolicy, dnsConfig and annotation taken back. */
export function createdPod(raw: Json): { object: Json; reconstructed: boolean } {
  const metadata = isJsonObject(raw.metadata) ? raw.metadata : {};
  const annotations = isJsonObject(metadata.annotations) ? metadata.annotations : {};
  if (!Object.hasOwn(annotations, ANNOTATION_APPLIED)) return { object: raw, reconstructed: false };
  const rest: Json = {};
  for (const [key, value] of Object.entries(annotations)) if (key !== ANNOTATION_APPLIED) rest[key] = value;
  const spec: Json = isJsonObject(raw.spec) ? { ...raw.spec } : {};
  // An author's own `None` is skipped, never annotated: an annotated `None` pod was switched by dns-tuner, from
  // ClusterFirstWithHostNet on the host network (plain ClusterFirst there is skipped too), else from ClusterFirst.
  if (spec.dnsPolicy === 'None')
    spec.dnsPolicy = spec.hostNetwork === true ? 'ClusterFirstWithHostNet' : 'ClusterFirst';
  delete spec.dnsConfig;
  return { object: { ...raw, metadata: { ...metadata, annotations: rest }, spec }, reconstructed: true };
}

function verdictFrom(outcome: ReviewOutcome, request: AdmissionRequest, basis: VerdictBasis): Verdict {
  let wouldBe: PodDns | undefined;
  let hostNetwork = false;
  const engine = outcome.engine;
  if (engine !== undefined) {
    const decision = engine.decision;
    hostNetwork = engine.input.pod.hostNetwork;
    if (decision.action === 'mutate' || decision.action === 'unchanged') wouldBe = decision.after;
    // Dry-run mode patches nothing: the pod keeps what it was created with.
    else if (decision.action === 'dry-run') wouldBe = decision.before;
    else wouldBe = ownDns(engine.input.pod);
  } else {
    const view = parsePodView(request.object);
    if (view.ok) {
      wouldBe = ownDns(view.pod);
      hostNetwork = view.pod.hostNetwork;
    }
  }
  return {
    decision: outcome.decision,
    reason: outcome.reason,
    policy: outcome.policy,
    detail: outcome.detail,
    wouldBe,
    hostNetwork,
    basis,
  };
}

/** A template or pod the review cannot read is what /mutate would skip as `invalid-pod`. */
function unreadable(message: string, basis: VerdictBasis): Verdict {
  return {
    decision: 'skipped',
    reason: 'invalid-pod',
    policy: undefined,
    detail: message,
    wouldBe: undefined,
    hostNetwork: false,
    basis,
  };
}
