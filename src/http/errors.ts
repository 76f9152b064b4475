/**
 * Every HTTP error dns-tuner answers with, in one table (the Fastify habit of coded errors): a stable `code` for
 * alerts and tests, the status, and a message template whose `%s` slots are filled with what was wrong.
 * On /mutate these only answer requests that are not valid AdmissionReviews: a valid review is always answered 200
 * allowed. /dry-run answers bad input with the DNS_TUNER_* 4xx codes below, never a 5xx.
 */
import { format } from 'node:util';

export const ERRORS = {
  DNS_TUNER_BAD_JSON: { statusCode: 400, message: 'request body is not valid JSON: %s' },
  DNS_TUNER_EMPTY_BODY: { statusCode: 400, message: 'request body is empty; expected an AdmissionReview' },
  DNS_TUNER_BAD_REVIEW: { statusCode: 400, message: 'not a valid admission.k8s.io/v1 AdmissionReview: %s' },
  DNS_TUNER_BAD_REQUEST: { statusCode: 400, message: 'bad request: %s' },
  DNS_TUNER_NOT_FOUND: { statusCode: 404, message: 'no route %s %s; this server answers %s' },
  DNS_TUNER_BODY_TOO_LARGE: { statusCode: 413, message: 'request body is larger than the %s byte limit' },
  DNS_TUNER_UNSUPPORTED_MEDIA_TYPE: {
    statusCode: 415,
    message: 'content-type %s is not supported; send application/json',
  },
  // POST /dry-run and GET /dry-run/namespaces/{name} (./dry-run.ts): each names what is wrong with the input.
  DNS_TUNER_BAD_YAML: { statusCode: 400, message: 'not valid YAML: %s' },
  DNS_TUNER_NOT_AN_OBJECT: { statusCode: 400, message: 'not a Kubernetes object: %s' },
  DNS_TUNER_UNSUPPORTED_KIND: {
    statusCode: 400,
    message: 'kind %s is not supported; send a Pod, a workload with a pod template (%s) or an AdmissionReview',
  },
  DNS_TUNER_NO_POD_TEMPLATE: { statusCode: 400, message: '%s has no pod template: %s' },
  DNS_TUNER_BAD_POD: { statusCode: 400, message: 'the pod cannot be read: %s' },
  DNS_TUNER_BAD_WHAT_IF: { statusCode: 400, message: 'not a valid {"namespace": …, "object": …} request: %s' },
  DNS_TUNER_NO_NAMESPACE: {
    statusCode: 400,
    message: 'no namespace: set metadata.namespace in the object, or pass ?namespace=NAME (explain: -n NAME)',
  },
  DNS_TUNER_BAD_NAMESPACE: { statusCode: 400, message: 'namespace %s is not a namespace name (an RFC 1123 label)' },
  DNS_TUNER_NAMESPACE_MISMATCH: { statusCode: 400, message: 'namespace %s does not match the object, which says %s' },
  DNS_TUNER_BAD_QUERY: { statusCode: 400, message: 'bad query parameter %s: %s' },
  DNS_TUNER_DRY_RUN_MEDIA_TYPE: {
    statusCode: 415,
    message: 'content-type %s is not supported; send application/json or application/yaml',
  },
  DNS_TUNER_NAMESPACE_NOT_FOUND: { statusCode: 404, message: 'namespace %s is not known to dns-tuner' },
  DNS_TUNER_NAMESPACE_UNAVAILABLE: { statusCode: 503, message: 'namespace %s could not be read: %s' },
  DNS_TUNER_INTERNAL: { statusCode: 500, message: 'internal error: %s' },
} as const satisfies Record<string, { statusCode: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  statusCode: number;
}

export class DnsTunerError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, ...args: Array<string | number>) {
    const entry = ERRORS[code];
    super(format(entry.message, ...args));
    this.name = 'DnsTunerError';
    this.code = code;
    this.statusCode = entry.statusCode;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, statusCode: this.statusCode };
  }
}

/** What the error handler needs of an error Fastify (or a content-type parser) raised. */
interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/** Maps any error reaching the HTTP error handler onto the table; unknown 5xx never leak their message. */
export function toDnsTunerError(
  error: unknown,
  context: { bodyLimit: number; contentType?: string | undefined },
): DnsTunerError {
  if (error instanceof DnsTunerError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as FastifyLikeError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DnsTunerError('DNS_TUNER_BODY_TOO_LARGE', context.bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DnsTunerError('DNS_TUNER_UNSUPPORTED_MEDIA_TYPE', JSON.stringify(context.contentType ?? '(none)'));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new DnsTunerError('DNS_TUNER_EMPTY_BODY');
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return new DnsTunerError('DNS_TUNER_BAD_REQUEST', String(e.message));
  return new DnsTunerError('DNS_TUNER_INTERNAL', 'see the server log');
}
