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
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  buildReviewResponse,
  parseAdmissionReview,
  podName,
} from '../admission/review.ts';
import { ACTION_REASON, type DecideInput, decide } from '../core/decide.ts';
import type { Config, Decision } from '../core/types.ts';
import { parsePodView } from '../kube/pod.ts';
import type { DecisionLabel, Metrics } from '../metrics/metrics.ts';
import type { NamespaceLookup, NamespaceSource } from '../namespaces/source.ts';
import { DRY_RUN_PATH, registerDryRun } from './dry-run.ts';
import { DnsTunerError, toDnsTunerError } from './errors.ts';

export const MUTATE_PATH = '/mutate';
/** etcd caps an object at 1.5 MiB and the apiserver a request body at 3 MiB: any real review fits in 3 MiB. */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;
export const INTERNAL_ERROR_WARNING = 'dns-tuner: internal error, pod admitted unchanged';

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
/** Bound on a namespace lookup, well inside the webhook's timeoutSeconds (3 in manifests/base/webhook.yaml). */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 2_000;

export interface TlsFiles {
  cert: string | Buffer;
  key: string | Buffer;
}

/**
 * `https: NO_CERTIFICATE_YET` starts an HTTPS server without a certificate: every handshake fails until
 * `setTlsContext` installs one (the certificate files may appear after the process starts, as a Secret does).
 */
export const NO_CERTIFICATE_YET = 'no-certificate-yet';

export interface WebhookAppOptions {
  logger: Logger;
  /** Called once per review, so a reloaded config applies to the next pod. */
  getConfig: () => Config;
  namespaces: NamespaceSource;
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
  lookupTimeoutMs?: number;
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

/** TLS settings shared by the first context and every hot swap (setSecureContext replaces all of them). */
export function tlsContextOptions(tls: TlsFiles): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' };
}

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
  const lookupTimeoutMs = opts.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
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

  // Our own JSON parser so a syntax error says where it is; Fastify's keeps guarding against prototype poisoning.
  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    const text = body.toString();
    defaultJsonParser(request, text, (error, value) => {
      if (error && (error as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        done(new DnsTunerError('DNS_TUNER_BAD_JSON', describeJsonError(text)), undefined);
        return;
      }
      done(error, value);
    });
  });

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

  app.post(MUTATE_PATH, async (request) => {
    const parsed = parseAdmissionReview(request.body);
    if (!parsed.ok) throw new DnsTunerError('DNS_TUNER_BAD_REVIEW', parsed.error);
    const started = process.hrtime.bigint();
    metrics.requestsInFlight.inc();
    try {
      const outcome = await reviewPod(parsed.request, opts, lookupTimeoutMs);
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      metrics.reviews.inc({ decision: outcome.decision, reason: outcome.reason, policy: outcome.policyLabel });
      metrics.reviewDuration.observe({ decision: outcome.decision }, latencyMs / 1000);
      if (outcome.decision === 'error') metrics.reviewErrors.inc();
      const res = outcome.response.response;
      const line = {
        uid: parsed.request.uid,
        namespace: parsed.request.namespace,
        pod: podName(parsed.request.object),
        decision: outcome.decision,
        reason: outcome.reason,
        policy: outcome.policy,
        latencyMs: Math.round(latencyMs * 100) / 100,
        patchOps: outcome.patchOps,
        warnings: res.warnings?.length ?? 0,
        ...(parsed.request.dryRun ? { dryRun: true } : {}),
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      };
      if (outcome.error) request.log.error({ ...line, err: outcome.error }, 'review failed, pod admitted unchanged');
      else request.log.info(line, 'review');
      return outcome.response;
    } finally {
      metrics.requestsInFlight.dec();
    }
  });

  // Look before you leap: the same review, answered as a report instead of a patch (./dry-run.ts).
  registerDryRun(app, { ...opts, metrics, bodyLimit, lookupTimeoutMs, review: reviewPod, lookupNamespace });

  return app;
}

/** What reviewPod needs: the dry-run endpoint and the `explain` CLI call it with their own config and namespaces. */
export type ReviewDeps = Pick<WebhookAppOptions, 'getConfig' | 'namespaces'>;

export interface ReviewOutcome {
  response: AdmissionReviewResponse;
  decision: DecisionLabel;
  reason: string;
  policy: string | undefined;
  /** Bounded for the metric: a configured policy name, '' or 'unknown' (a namespace label can hold anything). */
  policyLabel: string;
  patchOps: number;
  detail?: string | undefined;
  error?: unknown;
  /** When the engine ran: what it was given and what it decided (the dry-run report is built from these). */
  decided?: { input: DecideInput; decision: Decision } | undefined;
}

/**
 * One AdmissionRequest answered the way /mutate answers it. /dry-run and `dns-tuner explain` call this same function,
 * so the patch they show is byte-for-byte the one /mutate sends.
 */
export async function reviewPod(
  request: AdmissionRequest,
  opts: ReviewDeps,
  lookupTimeoutMs: number,
): Promise<ReviewOutcome> {
  const { uid } = request;
  const skipped = (reason: string, detail: string, warnings: string[] = []): ReviewOutcome => ({
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
    const config = opts.getConfig();
    const lookup = await lookupNamespace(opts.namespaces, namespace, lookupTimeoutMs);
    const input: DecideInput = {
      config,
      namespace,
      namespaceInfo: lookup.found ? lookup.namespace : undefined,
      namespaceError: !lookup.found && 'error' in lookup ? lookup.error : undefined,
      pod: view.pod,
      raw: request.object ?? {},
    };
    const decision = decide(input);
    return { ...fromDecision(uid, decision, config), decided: { input, decision } };
  } catch (error) {
    return {
      response: buildReviewResponse(uid, { warnings: [INTERNAL_ERROR_WARNING] }),
      decision: 'error',
      reason: 'internal-error',
      policy: undefined,
      policyLabel: '',
      patchOps: 0,
      detail: error instanceof Error ? error.message : String(error),
      error,
    };
  }
}

function fromDecision(uid: string, decision: Decision, config: Config): ReviewOutcome {
  const policyLabel =
    decision.policy === undefined ? '' : Object.hasOwn(config.policies, decision.policy) ? decision.policy : 'unknown';
  if (decision.action === 'skip') {
    return {
      response: buildReviewResponse(uid, { warnings: decision.warnings }),
      decision: 'skipped',
      reason: decision.reason,
      policy: decision.policy,
      policyLabel,
      patchOps: 0,
      detail: decision.message,
    };
  }
  const common = { policy: decision.policy, policyLabel, detail: decision.summary };
  const annotations = { warnings: decision.warnings, auditAnnotations: decision.auditAnnotations };
  switch (decision.action) {
    case 'mutate':
      return {
        ...common,
        response: buildReviewResponse(uid, { patch: decision.patch, ...annotations }),
        decision: 'mutated',
        reason: ACTION_REASON.mutate,
        patchOps: decision.patch.length,
      };
    case 'dry-run':
      // The patch enforce mode would send is reported (audit annotations, log), never applied.
      return {
        ...common,
        response: buildReviewResponse(uid, annotations),
        decision: 'dry-run',
        reason: ACTION_REASON['dry-run'],
        patchOps: 0,
      };
    case 'unchanged':
      return {
        ...common,
        response: buildReviewResponse(uid, annotations),
        decision: 'unchanged',
        reason: ACTION_REASON.unchanged,
        patchOps: 0,
      };
  }
}

/** Races the source against a deadline: a hung lookup must not hold the pod until the apiserver gives up. */
export async function lookupNamespace(
  source: NamespaceSource,
  name: string,
  timeoutMs: number,
): Promise<NamespaceLookup> {
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

/** V8's message names the position ("… in JSON at position 12 (line 1 column 13)"). */
function describeJsonError(body: string): string {
  try {
    JSON.parse(body);
    // It is JSON, so the default parser refused it for a `__proto__` or `constructor.prototype` key.
    return 'it contains a "__proto__" or "constructor.prototype" key';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.length > 200 ? `${message.slice(0, 199)}…` : message;
  }
}
