/**
 * The admission decision for one pod: pure, synchronous, no I/O, no logger. The HTTP layer (/mutate, /dry-run) and
 * the `explain` CLI all call this, so what they show is what the webhook does.
 */
import type { Config, Decision, NamespaceInfo, PodView } from './types.ts';

export interface DecideInput {
  config: Config;
  /** `request.namespace` of the AdmissionReview (the pod's metadata.namespace may be empty on CREATE). */
  namespace: string;
  /** Undefined when the namespace source does not know the namespace. */
  namespaceInfo: NamespaceInfo | undefined;
  /** Set when the namespace source could not answer (API unreachable): the pod is admitted unchanged. */
  namespaceError?: string | undefined;
  /** The validated view of the fields the engine reads. */
  pod: PodView;
  /** The raw pod object exactly as received: cloned and diffed, never parsed. */
  raw: Record<string, unknown>;
}

export function decide(_input: DecideInput): Decision {
  throw new Error('not implemented yet');
}
