/**
 * Every expected failure of the product, in one table (the Fastify habit of coded errors): a stable `code` for
 * alerts, logs and tests, a message template whose `%s` slots name the field and the value that were wrong, the HTTP
 * status the webhook answers with (read only by src/http/), and the exit code the CLI ends with (read only by
 * src/cli/). Bad input, bad config, bad flags, an unreadable namespace file or kubeconfig: each is a DnsTunerError.
 *
 * On /mutate the HTTP codes only answer requests that are not valid AdmissionReviews: a valid review is always
 * answered 200 allowed. /dry-run answers bad input with the 4xx codes below, never a 5xx.
 */
import { format } from 'node:util';

/** The CLI's exit codes: 2 for anything the user can fix in what they typed or gave us, 1 for the rest. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
/** `dns-tuner audit`: the audit completed and some running pods would change on a rollout (a CI gate). */
export const EXIT_CHANGES = 3;

interface ErrorEntry {
  message: string;
  /** The webhook's answer (src/http/ only). */
  statusCode: number;
  /** The CLI's exit code (src/cli/ only). */
  exitCode: typeof EXIT_FAILED | typeof EXIT_BAD_INPUT;
}

const input = (statusCode: number, message: string): ErrorEntry => ({ statusCode, message, exitCode: EXIT_BAD_INPUT });
const failure = (statusCode: number, message: string): ErrorEntry => ({ statusCode, message, exitCode: EXIT_FAILED });

export const ERRORS = {
  // Requests to /mutate that are not AdmissionReviews.
  DNS_TUNER_BAD_JSON: input(400, 'request body is not valid JSON: %s'),
  DNS_TUNER_EMPTY_BODY: input(400, 'request body is empty; expected an AdmissionReview'),
  DNS_TUNER_BAD_REVIEW: input(400, 'not a valid admission.k8s.io/v1 AdmissionReview: %s'),
  DNS_TUNER_BAD_REQUEST: input(400, 'bad request: %s'),
  // A client that reaches no route talks to the wrong server: a failure for the CLI, not its user's input.
  DNS_TUNER_NOT_FOUND: failure(404, 'no route %s %s; this server answers %s'),
  DNS_TUNER_BODY_TOO_LARGE: input(413, 'request body is larger than the %s byte limit'),
  DNS_TUNER_OVERLOADED: failure(503, 'the webhook is already receiving %s bytes of requests (limit %s); try again'),
  DNS_TUNER_UNSUPPORTED_MEDIA_TYPE: input(415, 'content-type %s is not supported; send application/json'),
  // POST /dry-run, GET /dry-run/namespaces/{name} and `dns-tuner explain`: each names what is wrong with the input.
  DNS_TUNER_BAD_YAML: input(400, 'not valid YAML: %s'),
  DNS_TUNER_NOT_AN_OBJECT: input(400, 'not a Kubernetes object: %s'),
  DNS_TUNER_UNSUPPORTED_KIND: input(
    400,
    'kind %s is not supported; send a Pod, a workload with a pod template (%s) or an AdmissionReview',
  ),
  DNS_TUNER_NO_POD_TEMPLATE: input(400, '%s has no pod template: %s'),
  DNS_TUNER_BAD_POD: input(400, 'the pod cannot be read: %s'),
  DNS_TUNER_BAD_WHAT_IF: input(400, 'not a valid {"namespace": …, "object": …} request: %s'),
  DNS_TUNER_NO_NAMESPACE: input(
    400,
    'no namespace: set metadata.namespace in the object, or pass ?namespace=NAME (explain: -n NAME)',
  ),
  DNS_TUNER_BAD_NAMESPACE: input(400, 'namespace %s is not a namespace name (an RFC 1123 label)'),
  DNS_TUNER_NAMESPACE_MISMATCH: input(400, 'namespace %s does not match the object, which says %s'),
  DNS_TUNER_BAD_QUERY: input(400, 'bad query parameter %s: %s'),
  DNS_TUNER_DRY_RUN_MEDIA_TYPE: input(
    415,
    'content-type %s is not supported; send application/json or application/yaml',
  ),
  DNS_TUNER_YAML_TOO_COSTLY: input(413, 'YAML body refused: %s; send JSON, or a smaller or simpler document'),
  DNS_TUNER_DRY_RUN_BUSY: failure(503, 'dry-run is busy (%s); try again in a second'),
  DNS_TUNER_NAMESPACE_NOT_FOUND: input(404, 'namespace %s is not known to dns-tuner'),
  DNS_TUNER_NAMESPACE_UNAVAILABLE: failure(503, 'namespace %s could not be read: %s'),
  // Command lines, files and start-up (the server and the CLI).
  DNS_TUNER_BAD_FLAG: input(400, '%s'),
  DNS_TUNER_CONFLICTING_FLAGS: input(400, '%s and %s both choose the namespace source; give only one'),
  DNS_TUNER_BAD_FILE: input(400, '%s: %s'),
  DNS_TUNER_BAD_CONFIG: input(400, '%s'),
  DNS_TUNER_BAD_NAMESPACE_FILE: input(400, 'namespace file %s'),
  DNS_TUNER_BAD_KUBECONFIG: input(
    400,
    'cluster namespace source: %s (or pass --namespaces FILE to read namespaces from a file)',
  ),
  DNS_TUNER_CANNOT_LISTEN: failure(500, 'cannot listen on %s (%s): %s'),
  DNS_TUNER_SERVER_FAILED: failure(502, '%s answered %s: %s'),
  // `dns-tuner audit`: reading the cluster through the user's kubeconfig.
  DNS_TUNER_AUDIT_KUBECONFIG: input(400, '%s'),
  DNS_TUNER_AUDIT_UNKNOWN_NAMESPACE: input(404, 'namespace %s does not exist in the cluster'),
  DNS_TUNER_AUDIT_REFUSED: input(400, 'the API server refused %s: %s'),
  DNS_TUNER_AUDIT_FORBIDDEN: failure(
    403,
    '%s: %s (the RBAC the audit needs: README, "Auditing running pods", or manifests/audit/clusterrole.yaml)',
  ),
  DNS_TUNER_AUDIT_API_FAILED: failure(502, 'the Kubernetes API at %s could not be read: %s'),
  DNS_TUNER_SERVER_UNREACHABLE: failure(502, '%s'),
  DNS_TUNER_INTERNAL: failure(500, 'internal error: %s'),
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  statusCode: number;
}

export class DnsTunerError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly exitCode: number;

  constructor(code: ErrorCode, ...args: Array<string | number>) {
    const entry: ErrorEntry = ERRORS[code];
    super(format(entry.message, ...args));
    this.name = 'DnsTunerError';
    this.code = code;
    this.statusCode = entry.statusCode;
    this.exitCode = entry.exitCode;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, statusCode: this.statusCode };
  }
}

/** An expected failure is a DnsTunerError; anything else is a bug and is reported as one. */
export function isExpected(error: unknown): error is DnsTunerError {
  return error instanceof DnsTunerError;
}
