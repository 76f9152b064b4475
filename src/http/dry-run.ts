/**
 * Look before you leap: `POST /dry-run` answers what /mutate would do with a Pod, a workload's pod template or an
 * AdmissionReview, as a report (the dry-run service, ../dryrun/service.ts, runs the very review /mutate runs). These
 * routes only decode the body and query, call the service and encode its answer.
 * `GET /dry-run/namespaces/{name}` shows a namespace's effective policy and where each value comes from.
 *
 * Bodies: JSON, or YAML (`application/yaml`, `text/yaml`, `application/x-yaml`, `text/plain`), one object per
 * request (a `kind: List` is refused with 400: `dns-tuner explain -f` splits Lists and multi-document files).
 * "What if I label it": `{"namespace": {"labels": {…}, "annotations": {…}}, "object": <pod|workload|review>}` replaces
 * what the namespace source says. Query: `?namespace=` (when the object names none), `?names=a,b` (extra names for
 * the cost table), `?output=text|json` (or `Accept: text/plain`).
 *
 * Bad input is answered 400 with a coded error (../errors.ts) naming what is wrong; nothing here answers 5xx for
 * input. Dry-run requests are not reviews: they are counted in dns_tuner_dry_run_requests_total, not reviews_total.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isNamespaceName, parseNames } from '../dryrun/input.ts';
import type { DryRunService } from '../dryrun/service.ts';
import { formatNamespaceReportText, formatReportText } from '../dryrun/text.ts';
import { DnsTunerError } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ReviewDecision } from '../review/outcome.ts';
import { toDnsTunerError } from './errors.ts';

export const DRY_RUN_PATH = '/dry-run';
export const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'];
/** Dry-runs answered at once; more are refused (503, Retry-After) before their bodies are read. */
export const MAX_DRY_RUNS_IN_FLIGHT = 2;
/**
 * A dry-run body is one object as a person sends it: etcd stores at most 1.5 MiB, and a 3 MiB body (what /mutate must
 * accept from the apiserver) costs ~1 s of the event loop /mutate shares to parse, review and report.
 */
export const DRY_RUN_BODY_LIMIT = 1024 * 1024;

export interface DryRunRouteDeps {
  dryRun: DryRunService;
  metrics: Metrics;
  /** The webhook's limit; dry-run bodies get the smaller of it and DRY_RUN_BODY_LIMIT. */
  bodyLimit: number;
}

type DryRunResultLabel = ReviewDecision | 'bad-input' | 'busy';
type NamespaceResultLabel = 'opted-in' | 'not-opted-in' | 'not-found' | 'unavailable' | 'bad-input' | 'error';

interface DryRunQuery {
  namespace?: string | undefined;
  names: string[];
  output?: 'text' | 'json' | undefined;
}

/** Registers the dry-run routes in their own encapsulated context (the YAML parser applies to them only). */
export function registerDryRun(app: FastifyInstance, deps: DryRunRouteDeps): void {
  const counter = deps.metrics.dryRunRequests;
  const bodyLimit = Math.min(deps.bodyLimit, DRY_RUN_BODY_LIMIT);
  let inFlight = 0;
  app.register(async (scope) => {
    // At most MAX_IN_FLIGHT dry-runs at once, refused before their bodies are read: /dry-run shares the event loop
    // and the heap with /mutate, and anyone who reaches the Service may call it (docs/adr/0008).
    scope.addHook('onRequest', async (request, reply) => {
      if (inFlight >= MAX_DRY_RUNS_IN_FLIGHT) {
        const busy = new DnsTunerError('DNS_TUNER_DRY_RUN_BUSY', `${inFlight} dry-runs in flight`);
        counter.inc({ route: routeOf(request), result: 'busy' });
        request.log.warn({ code: busy.code, dryRun: routeOf(request) }, 'dry-run refused');
        return reply.code(busy.statusCode).header('retry-after', '1').send(busy.toBody());
      }
      inFlight++;
      reply.raw.once('close', () => {
        inFlight--;
      });
      return undefined;
    });

    scope.addContentTypeParser(
      YAML_CONTENT_TYPES,
      { parseAs: 'string', bodyLimit },
      (_req: FastifyRequest, body: string | Buffer) => deps.dryRun.readYaml(body.toString()),
    );

    scope.setErrorHandler((error, request, reply) => {
      const coded = dryRunError(error, bodyLimit, request.headers['content-type']);
      const route = routeOf(request);
      const result = coded.statusCode >= 500 ? 'error' : 'bad-input';
      counter.inc({ route, result });
      if (coded.statusCode >= 500) request.log.error({ err: error, code: coded.code, dryRun: route }, 'dry-run failed');
      else request.log.warn({ code: coded.code, detail: coded.message, dryRun: route }, 'dry-run refused');
      return reply.code(coded.statusCode).send(coded.toBody());
    });

    scope.post(DRY_RUN_PATH, { bodyLimit }, async (request, reply) => {
      const started = process.hrtime.bigint();
      const query = parseQuery(request.query);
      const text = wantsText(request, query);
      const { report, target, outcome } = await deps.dryRun.run(request.body, {
        namespace: query.namespace,
        names: query.names,
      });
      counter.inc({ route: 'pod', result: report.decision satisfies DryRunResultLabel });
      request.log.info(
        {
          dryRun: 'pod',
          input: target.form,
          kind: target.kind,
          name: target.name,
          namespace: target.namespace,
          namespaceOrigin: report.namespace.origin,
          decision: report.decision,
          reason: report.reason,
          policy: report.policy ?? undefined,
          patchOps: report.patch.operations.length,
          latencyMs: Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 100) / 100,
          ...(outcome.error ? { err: outcome.error } : {}),
        },
        'dry-run',
      );
      return send(reply, text, report, formatReportText);
    });

    scope.get<{ Params: { name: string } }>(`${DRY_RUN_PATH}/namespaces/:name`, async (request, reply) => {
      const query = parseQuery(request.query);
      const text = wantsText(request, query);
      const { name } = request.params;
      if (!isNamespaceName(name)) throw new DnsTunerError('DNS_TUNER_BAD_NAMESPACE', JSON.stringify(name));
      const found = await deps.dryRun.namespace(name);
      if (!found.found) {
        // Answered here rather than thrown, so the request is counted and logged once, with its own result.
        const unavailable = found.error !== undefined;
        const coded = unavailable
          ? new DnsTunerError('DNS_TUNER_NAMESPACE_UNAVAILABLE', JSON.stringify(name), found.error ?? '')
          : new DnsTunerError('DNS_TUNER_NAMESPACE_NOT_FOUND', JSON.stringify(name));
        counter.inc({ route: 'namespace', result: unavailable ? 'unavailable' : 'not-found' });
        request.log.info({ dryRun: 'namespace', namespace: name, code: coded.code }, 'dry-run');
        return reply.code(coded.statusCode).send(coded.toBody());
      }
      const { report } = found;
      const result: NamespaceResultLabel = report.optedIn ? 'opted-in' : 'not-opted-in';
      counter.inc({ route: 'namespace', result });
      request.log.info(
        { dryRun: 'namespace', namespace: name, optedIn: report.optedIn, policy: report.policy ?? undefined },
        'dry-run',
      );
      return send(reply, text, report, formatNamespaceReportText);
    });
  });
}

function routeOf(request: FastifyRequest): 'namespace' | 'pod' {
  return request.url.startsWith(`${DRY_RUN_PATH}/namespaces`) ? 'namespace' : 'pod';
}

function send<T>(reply: FastifyReply, text: boolean, report: T, format: (r: T) => string): FastifyReply {
  if (text) return reply.type('text/plain; charset=utf-8').send(format(report));
  return reply.type('application/json; charset=utf-8').send(report);
}

/** The dry-run flavour of the error table: YAML is welcome here, and an empty body is "not an object". */
function dryRunError(error: unknown, bodyLimit: number, contentType: string | undefined): DnsTunerError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new DnsTunerError('DNS_TUNER_DRY_RUN_MEDIA_TYPE', JSON.stringify(contentType ?? '(none)'));
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new DnsTunerError('DNS_TUNER_NOT_AN_OBJECT', 'the body is empty');
  return toDnsTunerError(error, { bodyLimit, contentType });
}

function parseQuery(raw: unknown): DryRunQuery {
  const q = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const one = (key: string): string | undefined => {
    const v = q[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    throw new DnsTunerError('DNS_TUNER_BAD_QUERY', key, 'give it once');
  };
  const namespace = one('namespace');
  const output = one('output');
  if (output !== undefined && output !== 'text' && output !== 'json') {
    throw new DnsTunerError('DNS_TUNER_BAD_QUERY', 'output', `${JSON.stringify(output)}; use text or json`);
  }
  const rawNames = q.names;
  const names = parseNames(
    Array.isArray(rawNames) ? rawNames.map(String) : typeof rawNames === 'string' ? rawNames : undefined,
  );
  if (!names.ok) throw names.error;
  return { namespace: namespace === '' ? undefined : namespace, names: names.value, output };
}

/** `?output=` wins; otherwise text/plain when the client ranks it above JSON in Accept. JSON is the default. */
function wantsText(request: FastifyRequest, query: DryRunQuery): boolean {
  if (query.output !== undefined) return query.output === 'text';
  const accept = request.headers.accept;
  if (accept === undefined) return false;
  let text = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0;
    if (type === 'text/plain' || type === 'text/*') text = Math.max(text, q);
    if (type === 'application/json' || type === 'application/*') json = Math.max(json, q);
  }
  return text > json;
}
