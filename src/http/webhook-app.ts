/**
 * The admission webhook: `POST /mutate` answers admission.k8s.io/v1 AdmissionReviews for Pod CREATE.
 *
 * Only a request that is not an AdmissionReview at all gets an error status (400/404/413/415, coded in ./errors.ts).
 * Every valid review is answered 200 `allowed: true`, whatever happens inside: dns-tuner optimises DNS and must never
 * be the reason a pod cannot start, so its own failures admit the pod unchanged, with a warning, a log line and a
 * metric (the MutatingWebhookConfiguration also uses failurePolicy: Ignore for the cases we cannot answer at all).
 */
import type { SecureContextOptions } from 'node:tls';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { parseAdmissionReview } from '../admission/review.ts';
import type { DryRunService } from '../dryrun/service.ts';
import { DnsTunerError } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { isPromise, type ReviewService } from '../review/service.ts';
import { type TlsFiles, tlsContextOptions } from '../tls/context.ts';
import { DRY_RUN_PATH, registerDryRun } from './dry-run.ts';
import { toDnsTunerError } from './errors.ts';
import { parseCleanJson } from './json-body.ts';

export const MUTATE_PATH = '/mutate';
/** etcd caps an object at 1.5 MiB and the apiserver a request body at 3 MiB: any real review fits in 3 MiB. */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;
/**
 * Bytes of request bodies being received at once (by Content-Length; a body without one counts as the body limit).
 * A parsed review takes several times its size in heap: 150 connections each trickling 3 MB pushed the process to
 * 590 MiB. Typical reviews are ~15 KB, so hundreds fit; past the budget a request gets 503 before its body is read,
 * which the apiserver treats like any webhook failure (failurePolicy: Ignore admits the pod untouched).
 */
export const DEFAULT_BODY_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * The apiserver's webhook client reuses idle connections for up to 90 s (client-go transports inherit Go's
 * http.DefaultTransport IdleConnTimeout; k8s.io/apimachinery/pkg/util/net SetOldTransportDefaults). A server that
 * closes idle connections sooner races with the client's next request on them: connection resets, failed calls.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;
/** A webhook call may last at most 30 s (timeoutSeconds ≤ 30): nothing legitimate takes longer to send. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Slow-loris bound: headers must be complete this soon after the connection or previous request. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * `https: NO_CERTIFICATE_YET` starts an HTTPS server without a certificate: every handshake fails until
 * `setTlsContext` installs one (the certificate files may appear after the process starts, as a Secret does).
 */
export const NO_CERTIFICATE_YET = 'no-certificate-yet';

export interface WebhookAppOptions {
  logger: Logger;
  /** The review service, already instrumented (metrics and the per-review log line: ../review/instrumented.ts). */
  reviews: ReviewService;
  dryRun: DryRunService;
  /** For the coded-error counter; review metrics are the service wrapper's. */
  metrics: Metrics;
  /** PEM certificate chain and key; null/absent serves plain HTTP (tests with inject(), TLS terminated elsewhere). */
  https?: TlsFiles | typeof NO_CERTIFICATE_YET | null;
  /**
   * While this returns true (the shutdown drain), every response carries `Connection: close`, so each client
   * finishes its request and reconnects — through the Service, to another endpoint — instead of reusing a
   * connection to a pod that is about to stop. Responses to requests already in flight get it too.
   */
  closeConnections?: (() => boolean) | undefined;
  bodyLimit?: number;
  /** See DEFAULT_BODY_BYTES_IN_FLIGHT. */
  bodyBytesInFlight?: number;
  /** The server's cut-offs for slow clients; production defaults above. Tests shorten them. */
  timeouts?: Partial<ServerTimeouts>;
}

export interface ServerTimeouts {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
  handshakeMs: number;
  /** How often Node checks headersMs/requestMs on open connections. */
  connectionsCheckingIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersMs: HEADERS_TIMEOUT_MS,
  requestMs: REQUEST_TIMEOUT_MS,
  keepAliveMs: KEEP_ALIVE_TIMEOUT_MS,
  handshakeMs: TLS_HANDSHAKE_TIMEOUT_MS,
  connectionsCheckingIntervalMs: 5_000,
};

/**
 * Replaces the serving certificate of a listening HTTPS webhook app; existing connections keep the old one,
 * new handshakes get the new one. Throws if the app serves plain HTTP.
 */
export function setTlsContext(app: FastifyInstance, tls: TlsFiles): void {
  const server = app.server as unknown as { setSecureContext?: (options: SecureContextOptions) => void };
  if (typeof server.setSecureContext !== 'function')
    throw new Error('setTlsContext: the webhook app serves plain HTTP');
  server.setSecureContext(tlsContextOptions(tls));
}

/** Socket inactivity: above the keep-alive timeout, so it never cuts an idle keep-alive connection first. */
export function connectionTimeoutMs(timeouts: ServerTimeouts): number {
  return timeouts.keepAliveMs + 5_000;
}

export function buildWebhookApp(opts: WebhookAppOptions): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const { metrics } = opts;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const nodeServerOptions = {
    headersTimeout: timeouts.headersMs,
    connectionsCheckingInterval: timeouts.connectionsCheckingIntervalMs,
  };
  const common = {
    loggerInstance: opts.logger,
    // One line per review is logged by the handler; Fastify's two lines per request would only repeat it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Fastify answers 503 to a request that arrives on an open connection once close() has begun; that would be a
    // failed call for the apiserver. Answer it instead (with `Connection: close`, see closeConnections).
    return503OnClosing: false,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: connectionTimeoutMs(timeouts),
  };
  const tls: SecureContextOptions | undefined =
    opts.https === NO_CERTIFICATE_YET
      ? { minVersion: 'TLSv1.2' }
      : opts.https
        ? tlsContextOptions(opts.https)
        : undefined;
  const app = (tls
    ? Fastify({
        ...common,
        https: { ...tls, ...nodeServerOptions, handshakeTimeout: timeouts.handshakeMs },
      })
    : Fastify({ ...common, http: nodeServerOptions })) as unknown as FastifyInstance;

  const { closeConnections } = opts;
  if (closeConnections) {
    // onSend runs just before the headers go out, so a review that started before the drain is covered too.
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (closeConnections()) reply.header('connection', 'close');
      done(null, payload);
    });
  }

  const budget = opts.bodyBytesInFlight ?? DEFAULT_BODY_BYTES_IN_FLIGHT;
  let receiving = 0;
  // A callback hook, not an async one: an async hook costs every request a promise and a microtask hop.
  app.addHook('onRequest', (request, reply, done) => {
    const length = request.headers['content-length'];
    // Capped at the body limit: a larger body is refused with 413 as soon as it is seen to be larger.
    const declared = Math.min(
      length === undefined ? (request.method === 'GET' ? 0 : bodyLimit) : Number(length) || 0,
      bodyLimit,
    );
    if (declared === 0) {
      done();
      return;
    }
    if (receiving + declared > budget) {
      const busy = new DnsTunerError('DNS_TUNER_OVERLOADED', receiving, budget);
      metrics.invalidRequests.inc({ code: busy.code });
      request.log.warn({ code: busy.code, declared, receiving }, 'request refused');
      // Sending from a callback hook ends the request here: `done` must not be called as well.
      reply.code(busy.statusCode).header('retry-after', '1').send(busy.toBody());
      return;
    }
    receiving += declared;
    reply.raw.once('close', () => {
      receiving -= declared;
    });
    done();
  });

  // Our own JSON parser so a syntax error says where it is. Fastify's strips `__proto__` and `constructor.prototype`
  // keys instead of refusing the body: a valid pod may carry them in a free-form map (a CSI volume's
  // volumeAttributes), and a pod must never be refused for that. Our patch never touches those maps. A clean body (every real review) takes
  // the fast path of ./json-body.ts; every other body goes through this parser.
  const defaultJsonParser = app.getDefaultJsonParser('remove', 'remove');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    function parseJson(request, body, done) {
      const text = body.toString();
      const clean = parseCleanJson(text);
      if (clean !== undefined) {
        done(null, clean);
        return;
      }
      defaultJsonParser(request, text, (error, value) => {
        if (error && (error as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
          done(new DnsTunerError('DNS_TUNER_BAD_JSON', describeJsonError(text)), undefined);
          return;
        }
        done(error, value);
      });
    },
  );

  // Fastify parses text/plain by default; /mutate takes JSON only, so a text body is a 415 like any other type
  // (the dry-run routes add their own text/plain parser: YAML).
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error, request, reply) => {
    const coded = toDnsTunerError(error, { bodyLimit, contentType: request.headers['content-type'] });
    metrics.invalidRequests.inc({ code: coded.code });
    if (coded.statusCode >= 500) request.log.error({ err: error, code: coded.code }, 'request failed');
    else request.log.warn({ code: coded.code, detail: coded.message }, 'request refused');
    return reply.code(coded.statusCode).send(coded.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const routes = `POST ${MUTATE_PATH}, POST ${DRY_RUN_PATH}, GET ${DRY_RUN_PATH}/namespaces/{name}`;
    const coded = new DnsTunerError('DNS_TUNER_NOT_FOUND', request.method, request.url, routes);
    metrics.invalidRequests.inc({ code: coded.code });
    return reply.code(coded.statusCode).send(coded.toBody());
  });

  // Not an async handler: a review of a cached namespace is answered without a promise (Fastify sends a returned
  // object as it is, and awaits a returned promise).
  app.post(MUTATE_PATH, (request) => {
    const parsed = parseAdmissionReview(request.body);
    if (!parsed.ok) throw new DnsTunerError('DNS_TUNER_BAD_REVIEW', parsed.error);
    // Fastify keeps the request (and so the parsed body, ~10× the review's bytes) until the answer's last byte is
    // written; under load that is many event-loop turns, and every young-generation GC meanwhile copies each pending
    // body. The review holds what it needs (parsed.request): let the rest go now.
    request.body = undefined;
    const outcome = opts.reviews.review(parsed.request);
    return isPromise(outcome) ? outcome.then((o) => o.response) : outcome.response;
  });

  // Look before you leap: the same review, answered as a report instead of a patch (./dry-run.ts).
  registerDryRun(app, { dryRun: opts.dryRun, metrics, bodyLimit });

  return app;
}

/** V8's message names the position ("… in JSON at position 12 (line 1 column 13)"). */
function describeJsonError(body: string): string {
  try {
    JSON.parse(body);
    return 'the JSON parser refused it';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.length > 200 ? `${message.slice(0, 199)}…` : message;
  }
}
