/**
 * The review service: one AdmissionRequest answered the way /mutate answers it — the envelope's kind and operation,
 * the pod view, the namespace (from the namespace source, within a deadline), the pure engine, one outcome.
 * /mutate, /dry-run and `dns-tuner explain` all call it, so the patch they show is byte-for-byte the one /mutate
 * sends. No transport here: the HTTP layer decodes and encodes, and metrics and the log line wrap it
 * (./instrumented.ts).
 *
 * A review never throws: dns-tuner optimises DNS and must never be the reason a pod cannot start, so its own
 * failures become decision `error` and the pod is admitted unchanged, with a warning.
 */
import { type AdmissionRequest, buildReviewResponse } from '../admission/review.ts';
import type { ClusterFactsReader } from '../cluster/source.ts';
import { type DecideInput, decide } from '../core/decide.ts';
import type { Config, Decision } from '../core/types.ts';
import { parsePodView } from '../kube/pod.ts';
import type { NamespaceLookup, NamespaceSource } from '../namespaces/source.ts';
import { DECISION_OF_ACTION, INTERNAL_ERROR_REASON, type RequestReason, type ReviewOutcome } from './outcome.ts';

/** Bound on a namespace lookup, well inside the webhook's timeoutSeconds (3 in manifests/base/webhook.yaml). */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 2_000;
export const INTERNAL_ERROR_WARNING = 'dns-tuner: internal error, pod admitted unchanged';

export interface ReviewServiceDeps {
  /** Called once per review, so a reloaded config applies to the next pod. */
  getConfig: () => Config;
  namespaces: NamespaceSource;
  lookupTimeoutMs?: number | undefined;
  /** What the cluster says about DNS (kube-dns, CoreDNS, the node-local cache, NetworkPolicies); none: config trusted. */
  clusterFacts?: ClusterFactsReader | null | undefined;
}

/** A value now, or later: the review of a pod whose namespace is cached needs no promise (./instrumented.ts). */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

export interface ReviewService {
  /**
   * The outcome, synchronously when the namespace source has the answer at hand (a cache hit: no deadline timer, no
   * promise), else once the lookup settles. Callers `await` it either way.
   */
  review(request: AdmissionRequest): MaybePromise<ReviewOutcome>;
  /** The namespace source, raced against the lookup deadline (also for GET /dry-run/namespaces/{name}). */
  lookupNamespace(name: string): Promise<NamespaceLookup>;
}

export function createReviewService(deps: ReviewServiceDeps): ReviewService {
  const timeoutMs = deps.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const { namespaces } = deps;
  const lookupNamespace = (name: string) => lookupWithDeadline(namespaces, name, timeoutMs);
  // A cache hit is answered now; only a miss pays for the deadline (a timer, an AbortController, a race).
  const lookup = (name: string): MaybePromise<NamespaceLookup> => namespaces.cached?.(name) ?? lookupNamespace(name);
  return {
    lookupNamespace,
    review: (request) => reviewPod(request, deps.getConfig, lookup, deps.clusterFacts ?? undefined),
  };
}

function reviewPod(
  request: AdmissionRequest,
  getConfig: () => Config,
  lookupNamespace: (name: string) => MaybePromise<NamespaceLookup>,
  clusterFacts: ClusterFactsReader | undefined,
): MaybePromise<ReviewOutcome> {
  const { uid } = request;
  const skipped = (reason: RequestReason, detail: string, warnings: string[] = []): ReviewOutcome => ({
    response: buildReviewResponse(uid, { warnings }),
    decision: 'skipped',
    reason,
    policy: undefined,
    policyLabel: '',
    patchOps: 0,
    detail,
  });

  // The webhook is registered for pods/CREATE only; anything else reaching it (a broad rule, a test) passes through.
  // Pod UPDATE may not change dnsPolicy/dnsConfig (they are immutable), so only CREATE can be tuned.
  if (request.kind.group !== '' || request.kind.kind !== 'Pod') {
    return skipped('not-a-pod', `kind ${request.kind.group || 'core'}/${request.kind.version}/${request.kind.kind}`);
  }
  if (request.operation !== 'CREATE') return skipped('not-create', `operation ${request.operation}`);
  if (request.subResource) return skipped('subresource', `subresource ${request.subResource}`);

  try {
    const view = parsePodView(request.object);
    if (!view.ok) {
      return skipped('invalid-pod', view.error, [`dns-tuner: pod not tuned, cannot read it: ${view.error}`]);
    }
    const namespace = request.namespace || view.pod.namespace || '';
    if (namespace === '') {
      return skipped('no-namespace', 'the review names no namespace', ['dns-tuner: pod not tuned, no namespace']);
    }
    const config = getConfig();
    const pod = view.pod;
    const decideWith = (lookup: NamespaceLookup): ReviewOutcome => {
      const input: DecideInput = {
        config,
        namespace,
        namespaceInfo: lookup.found ? lookup.namespace : undefined,
        namespaceError: !lookup.found && 'error' in lookup ? lookup.error : undefined,
        pod,
        raw: request.object ?? {},
        clusterFacts: clusterFacts?.facts(namespace),
      };
      const decision = decide(input);
      return { ...fromDecision(uid, decision, config), engine: { input, decision } };
    };
    const lookup = lookupNamespace(namespace);
    if (isPromise(lookup)) {
      return lookup.then(decideWith).catch((error: unknown) => failed(uid, error));
    }
    return decideWith(lookup);
  } catch (error) {
    return failed(uid, error);
  }
}

/** Our own failure: the pod is admitted unchanged, with a warning (and the error, for the log). */
function failed(uid: string, error: unknown): ReviewOutcome {
  return {
    response: buildReviewResponse(uid, { warnings: [INTERNAL_ERROR_WARNING] }),
    decision: 'error',
    reason: INTERNAL_ERROR_REASON,
    policy: undefined,
    policyLabel: '',
    patchOps: 0,
    detail: error instanceof Error ? error.message : String(error),
    error,
  };
}

function fromDecision(uid: string, decision: Decision, config: Config): ReviewOutcome {
  const policyLabel =
    decision.policy === undefined ? '' : Object.hasOwn(config.policies, decision.policy) ? decision.policy : 'unknown';
  const common = { policy: decision.policy, policyLabel, decision: DECISION_OF_ACTION[decision.action] };
  if (decision.action === 'skip') {
    return {
      ...common,
      response: buildReviewResponse(uid, { warnings: decision.warnings }),
      reason: decision.reason,
      patchOps: 0,
      detail: decision.message,
    };
  }
  const annotations = { warnings: decision.warnings, auditAnnotations: decision.auditAnnotations };
  // Only enforce mode sends the patch; dry-run reports it (audit annotations, log), never applies it.
  const sent = decision.action === 'mutate' ? decision.patch : [];
  return {
    ...common,
    response: buildReviewResponse(uid, { patch: sent, ...annotations }),
    reason: decision.reason,
    patchOps: sent.length,
    detail: decision.summary,
  };
}

/** Races the source against a deadline: a hung lookup must not hold the pod until the apiserver gives up. */
async function lookupWithDeadline(source: NamespaceSource, name: string, timeoutMs: number): Promise<NamespaceLookup> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<NamespaceLookup>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ found: false, error: `namespace lookup timed out after ${timeoutMs} ms` });
    }, timeoutMs);
  });
  try {
    return await Promise.race([source.lookup(name, controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
