/**
 * Look before you leap: `POST /dry-run` answers what /mutate would do with a Pod, a workload's pod template or an
 * AdmissionReview — through the very same review function (webhook-app.ts `reviewPod`), so the patch it shows is
 * byte-for-byte the one /mutate returns — plus the resolv.conf and query costs before and after, and the warnings.
 * `GET /dry-run/namespaces/{name}` shows a namespace's effective policy and where each value comes from.
 *
 * Bodies: JSON, or YAML (`application/yaml`, `text/yaml`, `application/x-yaml`, `text/plain`), one object per
 * request (a `kind: List` is refused with 400: `dns-tuner explain -f` splits Lists and multi-document files).
 * "What if I label it": `{"namespace": {"labels": {…}, "annotations": {…}}, "object": <pod|workload|review>}` replaces
 * what the namespace source says. Query: `?namespace=` (when the object names none), `?names=a,b` (extra names for
 * the cost table), `?output=text|json` (or `Accept: text/plain`).
 *
 * Bad input is answered 400 with a coded error (./errors.ts) naming what is wrong; nothing here answers 5xx for
 * input. Dry-run requests are not reviews: they are counted in dns_tuner_dry_run_requests_total, not reviews_total.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdmissionRequest } from '../admission/review.ts';
import type { Config, NamespaceInfo } from '../core/types.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { NamespaceLookup, NamespaceSource } from '../namespaces/source.ts';
import {
  checkDepth,
  type DryRunTarget,
  isNamespaceName,
  parseNames,
  parseYamlDocuments,
  singleDocument,
  toTarget,
  unwrapWhatIf,
  type WhatIf,
  whatIfNamespace,
} from '../report/input.ts';
import { buildNamespaceReport } from '../report/namespace-report.ts';
import { buildDryRunReport, type DryRunReport, type NamespaceOrigin } from '../report/report.ts';
import { formatNamespaceReportText, formatReportText } from '../report/text.ts';
import { DnsTunerError, toDnsTunerError } from './errors.ts';
import type { ReviewDeps, ReviewOutcome } from './webhook-app.ts';

export const DRY_RUN_PATH = '/dry-run';
export const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'];

/** webhook-app.ts `reviewPod`, passed in (not imported) so this module does not import the app that registers it. */
export type ReviewFn = (request: AdmissionRequest, deps: ReviewDeps, lookupTimeoutMs: number) => Promise<ReviewOutcome>;

// ---------------------------------------------------------------------------------------------------------------
// The dry run itself, shared with `dns-tuner explain` (offline it runs this with the file loaders).

export interface DryRunDeps {
  review: ReviewFn;
  config: Config;
  /** null: nothing is known about namespaces (explain offline without --namespaces); every namespace is unknown. */
  namespaces: NamespaceSource | null;
  lookupTimeoutMs: number;
}

export interface DryRunParams {
  /** `?namespace=` / `-n`. */
  namespace?: string | undefined;
  /** Extra names for the cost table, already validated (parseNames). */
  names?: readonly string[] | undefined;
  /** `explain --label/--annotation`: replaces both the source and a wrapper's namespace. */
  whatIf?: WhatIf | undefined;
}

export interface DryRunResult {
  report: DryRunReport;
  target: DryRunTarget;
  outcome: ReviewOutcome;
}

/** Runs one object (or a what-if wrapper) through the webhook's review; throws a DnsTunerError for bad input. */
export async function runDryRun(deps: DryRunDeps, body: unknown, params: DryRunParams = {}): Promise<DryRunResult> {
  const shallow = checkDepth(body);
  if (!shallow.ok) throw shallow.error;
  const unwrapped = unwrapWhatIf(body);
  if (!unwrapped.ok) throw unwrapped.error;
  const whatIf = params.whatIf ?? unwrapped.value.whatIf;
  const target = toTarget(unwrapped.value.object, params.namespace ?? whatIf?.name);
  if (!target.ok) throw target.error;
  if (whatIf?.name !== undefined && whatIf.name !== target.value.namespace) {
    const theirs = JSON.stringify(target.value.namespace);
    throw new DnsTunerError('DNS_TUNER_NAMESPACE_MISMATCH', JSON.stringify(whatIf.name), theirs);
  }

  let namespaces: NamespaceSource;
  let origin: NamespaceOrigin;
  if (whatIf !== undefined) {
    namespaces = fixedSource(whatIfNamespace(target.value.namespace, whatIf));
    origin = 'what-if';
  } else if (deps.namespaces !== null) {
    namespaces = deps.namespaces;
    origin = 'namespace-source';
  } else {
    namespaces = fixedSource(undefined);
    origin = 'none';
  }
  // One config for the whole run: a reload between the review and the report must not mix two configs.
  const config = deps.config;
  const outcome = await deps.review(
    target.value.request,
    { getConfig: () => config, namespaces },
    deps.lookupTimeoutMs,
  );
  const report = buildDryRunReport({
    target: target.value,
    review: outcome,
    config,
    namespaceOrigin: origin,
    names: params.names,
  });
  return { report, target: target.value, outcome };
}

/** A NamespaceSource that knows one namespace (or none): the "what if", and explain without a namespace file. */
function fixedSource(info: NamespaceInfo | undefined): NamespaceSource {
  return {
    async lookup(name): Promise<NamespaceLookup> {
      return info !== undefined && info.name === name ? { found: true, namespace: info } : { found: false };
    },
    status: () => ({ ready: true, size: info === undefined ? 0 : 1 }),
    entries: () => (info === undefined ? [] : [info]),
    async start() {},
    async stop() {},
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The routes

export interface DryRunRouteDeps {
  getConfig: () => Config;
  namespaces: NamespaceSource;
  metrics: Metrics;
  bodyLimit: number;
  lookupTimeoutMs: number;
  review: ReviewFn;
  /** For GET /dry-run/namespaces/{name}. */
  lookupNamespace: (source: NamespaceSource, name: string, timeoutMs: number) => Promise<NamespaceLookup>;
}

type DryRunResultLabel = 'mutate' | 'skip' | 'dry-run' | 'unchanged' | 'bad-input' | 'error';
type NamespaceResultLabel = 'opted-in' | 'not-opted-in' | 'not-found' | 'unavailable' | 'bad-input' | 'error';

interface DryRunQuery {
  namespace?: string | undefined;
  names: string[];
  output?: 'text' | 'json' | undefined;
}

/** Registers the dry-run routes in their own encapsulated context (the YAML parser applies to them only). */
export function registerDryRun(app: FastifyInstance, deps: DryRunRouteDeps): void {
  const counter = deps.metrics.dryRunRequests;
  app.register(async (scope) => {
    scope.addContentTypeParser(
      YAML_CONTENT_TYPES,
      { parseAs: 'string', bodyLimit: deps.bodyLimit },
      (_req, body, done) => {
        const docs = parseYamlDocuments(body.toString());
        if (!docs.ok) {
          done(docs.error, undefined);
          return;
        }
        const one = singleDocument(docs.value);
        if (!one.ok) done(one.error, undefined);
        else done(null, one.value);
      },
    );

    scope.setErrorHandler((error, request, reply) => {
      const coded = dryRunError(error, deps.bodyLimit, request.headers['content-type']);
      const route = request.routeOptions.url?.startsWith(`${DRY_RUN_PATH}/namespaces`) ? 'namespace' : 'pod';
      const result = coded.statusCode >= 500 ? 'error' : 'bad-input';
      counter.inc({ route, result });
      if (coded.statusCode >= 500) request.log.error({ err: error, code: coded.code, dryRun: route }, 'dry-run failed');
      else request.log.warn({ code: coded.code, detail: coded.message, dryRun: route }, 'dry-run refused');
      return reply.code(coded.statusCode).send(coded.toBody());
    });

    scope.post(DRY_RUN_PATH, async (request, reply) => {
      const started = process.hrtime.bigint();
      const query = parseQuery(request.query);
      const text = wantsText(request, query);
      const { report, target, outcome } = await runDryRun(
        {
          review: deps.review,
          config: deps.getConfig(),
          namespaces: deps.namespaces,
          lookupTimeoutMs: deps.lookupTimeoutMs,
        },
        request.body,
        { namespace: query.namespace, names: query.names },
      );
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
      const config = deps.getConfig();
      const lookup = await deps.lookupNamespace(deps.namespaces, name, deps.lookupTimeoutMs);
      if (!lookup.found) {
        // Answered here rather than thrown, so the request is counted and logged once, with its own result.
        const unavailable = 'error' in lookup;
        const coded = unavailable
          ? new DnsTunerError('DNS_TUNER_NAMESPACE_UNAVAILABLE', JSON.stringify(name), lookup.error)
          : new DnsTunerError('DNS_TUNER_NAMESPACE_NOT_FOUND', JSON.stringify(name));
        counter.inc({ route: 'namespace', result: unavailable ? 'unavailable' : 'not-found' });
        request.log.info({ dryRun: 'namespace', namespace: name, code: coded.code }, 'dry-run');
        return reply.code(coded.statusCode).send(coded.toBody());
      }
      const report = buildNamespaceReport(config, lookup.namespace);
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
