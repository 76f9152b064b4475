/**
 * Maps whatever reaches a Fastify error handler (our coded errors, Fastify's own FST_* errors, a content-type
 * parser's throw) onto the product's error table (../errors.ts). Unknown 5xx never leak their message.
 */
import { DnsTunerError } from '../errors.ts';

/** What the error handler needs of an error Fastify (or a content-type parser) raised. */
interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

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
