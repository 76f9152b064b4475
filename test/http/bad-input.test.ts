/**
 * What /mutate does with everything that is not a plain Pod CREATE: coded 4xx errors for what is not an
 * AdmissionReview, `allowed: true` without a patch for reviews it must not touch, and never a blocked pod when its
 * own dependencies fail. After every bad request the same app must still mutate a good one.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exampleReview, type Json, responseOf, reviewIn } from '../../lab/review.ts';
import { buildOpsApp } from '../../src/http/ops-app.ts';
import type { NamespaceLookup, NamespaceSource } from '../../src/namespaces/source.ts';
import { INTERNAL_ERROR_WARNING } from '../../src/review/service.ts';
import { wireWebhook } from '../../src/server/wire.ts';
import { captureLogger, type Deps, exampleDeps, type LogCapture } from '../support/webhook.ts';

let deps: Deps;
let logs: LogCapture;
let app: FastifyInstance;

function build(namespaces: NamespaceSource = deps.namespaces, lookupTimeoutMs?: number): FastifyInstance {
  return wireWebhook({
    logger: logs.logger,
    getConfig: () => deps.config,
    namespaces,
    metrics: deps.metrics,
    lookupTimeoutMs,
  }).app;
}

beforeEach(async () => {
  deps = await exampleDeps();
  logs = captureLogger();
  app = build();
});

afterEach(async () => {
  await app.close();
});

const postRaw = (payload: string | Buffer, contentType = 'application/json', target = app) =>
  target.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': contentType }, payload });
const postReview = (review: unknown, target = app) => postRaw(JSON.stringify(review), 'application/json', target);

async function expectStillMutates(target = app): Promise<void> {
  const res = await postReview(exampleReview(), target);
  expect(res.statusCode).toBe(200);
  expect(responseOf(res.body).patchType).toBe('JSONPatch');
}

function withRequest(change: (request: Json) => void): Json {
  const review = exampleReview();
  change(review.request as Json);
  return review;
}

describe('requests that are not AdmissionReviews get a coded error', () => {
  const cases: Array<{
    name: string;
    send: () => ReturnType<typeof postRaw>;
    status: number;
    code: string;
    says: RegExp;
  }> = [
    {
      name: 'malformed JSON',
      send: () => postRaw('{"apiVersion": "admission.k8s.io/v1", "kind": }'),
      status: 400,
      code: 'DNS_TUNER_BAD_JSON',
      says: /not valid JSON: Unexpected token '}'/,
    },
    {
      name: 'an empty body',
      send: () => postRaw(''),
      status: 400,
      code: 'DNS_TUNER_EMPTY_BODY',
      says: /empty/,
    },
    {
      // The key is stripped (never a refusal of its own); what is left is not a review.
      name: 'a prototype-poisoning key in something that is not a review',
      send: () => postRaw('{"apiVersion":"admission.k8s.io/v1","__proto__":{"polluted":true}}'),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /not a valid admission.k8s.io\/v1 AdmissionReview/,
    },
    {
      name: 'JSON that is not an object',
      send: () => postReview([1, 2]),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /\(body\): must be a JSON object, got \[1,2\]/,
    },
    {
      name: 'a wrong apiVersion',
      send: () => postReview({ ...exampleReview(), apiVersion: 'admission.k8s.io/v1beta1' }),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /apiVersion: must be "admission.k8s.io\/v1", got "admission.k8s.io\/v1beta1"/,
    },
    {
      name: 'a wrong kind',
      send: () => postReview({ ...exampleReview(), kind: 'ConversionReview' }),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /kind: must be "AdmissionReview", got "ConversionReview"/,
    },
    {
      name: 'a missing uid',
      send: () => postReview(withRequest((r) => delete r.uid)),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /request\.uid: is required/,
    },
    {
      name: 'a missing request',
      send: () => postReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /request: is required/,
    },
    {
      name: 'an object that is a string',
      send: () => postReview(withRequest((r) => (r.object = 'pod'))),
      status: 400,
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /request\.object: must be a JSON object, got "pod"/,
    },
    {
      name: 'a body over 3 MiB',
      send: () => postRaw(JSON.stringify({ ...exampleReview(), padding: 'x'.repeat(3 * 1024 * 1024) })),
      status: 413,
      code: 'DNS_TUNER_BODY_TOO_LARGE',
      says: /larger than the 3145728 byte limit/,
    },
    {
      name: 'a non-JSON content type',
      send: () => postRaw('apiVersion: admission.k8s.io/v1', 'application/yaml'),
      status: 415,
      code: 'DNS_TUNER_UNSUPPORTED_MEDIA_TYPE',
      says: /content-type "application\/yaml" is not supported/,
    },
    {
      name: 'a text/plain body (the table says 415, not a 400 from a text parser)',
      send: () => postRaw(JSON.stringify(exampleReview()), 'text/plain'),
      status: 415,
      code: 'DNS_TUNER_UNSUPPORTED_MEDIA_TYPE',
      says: /content-type "text\/plain" is not supported/,
    },
    {
      name: 'a GET',
      send: () => app.inject({ method: 'GET', url: '/mutate' }),
      status: 404,
      code: 'DNS_TUNER_NOT_FOUND',
      says: /no route GET \/mutate; this server answers POST \/mutate/,
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}, then the next good review is still mutated`, async () => {
      const res = await c.send();
      expect(res.statusCode).toBe(c.status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = res.json() as { code: string; message: string; statusCode: number };
      expect(body).toEqual({ code: c.code, message: expect.stringMatching(c.says), statusCode: c.status });
      await expectStillMutates();
      const metrics = await deps.registry.getSingleMetricAsString('dns_tuner_invalid_requests_total');
      expect(metrics).toContain(`dns_tuner_invalid_requests_total{code="${c.code}"} 1`);
    });
  }

  it('a 3 MiB body just under the limit is read (the limit is 3 MiB, not the 1 MiB Fastify default)', async () => {
    const review = exampleReview();
    const base = JSON.stringify(review).length;
    const padded = { ...review, padding: 'x'.repeat(3 * 1024 * 1024 - base - 20) };
    const res = await postReview(padded);
    expect(res.statusCode).toBe(200);
    expect(responseOf(res.body).patchType).toBe('JSONPatch');
  });
});

describe('reviews dns-tuner must not touch are allowed without a patch', () => {
  const cases: Array<{ name: string; review: () => Json; reason: string }> = [
    {
      name: 'a Deployment',
      review: () =>
        withRequest((r) => {
          r.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
          r.resource = { group: 'apps', version: 'v1', resource: 'deployments' };
        }),
      reason: 'not-a-pod',
    },
    {
      name: 'a Pod-named kind of another group',
      review: () => withRequest((r) => (r.kind = { group: 'example.com', version: 'v1', kind: 'Pod' })),
      reason: 'not-a-pod',
    },
    { name: 'a Pod UPDATE', review: () => withRequest((r) => (r.operation = 'UPDATE')), reason: 'not-create' },
    {
      name: 'a Pod DELETE without object',
      review: () =>
        withRequest((r) => {
          r.operation = 'DELETE';
          r.object = null;
        }),
      reason: 'not-create',
    },
    {
      name: 'the pods/ephemeralcontainers subresource',
      review: () => withRequest((r) => (r.subResource = 'ephemeralcontainers')),
      reason: 'subresource',
    },
    {
      name: 'a pod in a namespace that did not opt in',
      review: () => reviewIn('legacy'),
      reason: 'namespace-not-opted-in',
    },
    { name: 'a pod in a namespace nobody knows', review: () => reviewIn('nowhere'), reason: 'namespace-unknown' },
  ];

  for (const c of cases) {
    it(`${c.name} (${c.reason})`, async () => {
      const review = c.review();
      const res = await postReview(review);
      expect(res.statusCode).toBe(200);
      expect(responseOf(res.body)).toEqual({ uid: (review.request as Json).uid, allowed: true });
      const line = logs.lines.find((l) => l.msg === 'review');
      expect(line).toMatchObject({ decision: 'skipped', reason: c.reason, patchOps: 0 });
      await expectStillMutates();
    });
  }

  it('a valid pod with a `__proto__` key in a free-form map is reviewed and mutated, never refused', async () => {
    const review = reviewIn('shop');
    const text = JSON.stringify(review).replace(
      '"spec":{',
      '"spec":{"volumes":[{"name":"v","csi":{"driver":"d","volumeAttributes":{"__proto__":{"x":"1"},"k":"v"}}}],',
    );
    expect(text).toContain('"__proto__"');
    const res = await postRaw(text);
    expect(res.statusCode).toBe(200);
    const answer = responseOf(res.body);
    expect(answer.allowed).toBe(true);
    expect(answer.patch).toBeDefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('a pod whose fields cannot be read is allowed with a warning that says why', async () => {
    const res = await postReview(withRequest((r) => ((r.object as { spec: Json }).spec.dnsPolicy = 42)));
    const response = responseOf(res.body);
    expect(response.patch).toBeUndefined();
    expect(response.warnings).toHaveLength(1);
    expect(response.warnings?.[0]).toMatch(/^dns-tuner: pod not tuned, cannot read it: pod spec\.dnsPolicy/);
    expect(logs.lines.find((l) => l.msg === 'review')).toMatchObject({ decision: 'skipped', reason: 'invalid-pod' });
    await expectStillMutates();
  });

  it('a Pod CREATE without an object is allowed with a warning', async () => {
    const res = await postReview(withRequest((r) => delete r.object));
    const response = responseOf(res.body);
    expect(response.patch).toBeUndefined();
    expect(response.warnings?.[0]).toMatch(/cannot read it/);
  });
});

/** A namespace source whose lookup does what the test says; status/start/stop behave like a loaded source. */
function sourceWith(lookup: (name: string, signal?: AbortSignal) => Promise<NamespaceLookup>): NamespaceSource {
  return {
    lookup,
    status: () => ({ ready: true, size: 0 }),
    entries: () => [],
    start: async () => {},
    stop: async () => {},
  };
}

describe('failures inside dns-tuner never block a pod', () => {
  it('a namespace source that throws: allowed, no patch, a warning, an error log and the error metric', async () => {
    const failing = build(sourceWith(async () => Promise.reject(new Error('boom: cache corrupted'))));
    const ops = buildOpsApp({ logger: logs.logger, registry: deps.registry, readiness: [] });
    try {
      const review = exampleReview();
      const res = await postReview(review, failing);
      expect(res.statusCode).toBe(200);
      expect(responseOf(res.body)).toEqual({
        uid: (review.request as Json).uid,
        allowed: true,
        warnings: [INTERNAL_ERROR_WARNING],
      });
      const line = logs.lines.find((l) => l.decision === 'error');
      expect(line).toMatchObject({ level: 50, reason: 'internal-error', namespace: 'shop', patchOps: 0 });
      expect(JSON.stringify(line?.err)).toContain('boom: cache corrupted');

      const metrics = (await ops.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/^dns_tuner_review_errors_total 1$/m);
      expect(metrics).toContain(
        'dns_tuner_reviews_total{decision="error",reason="internal-error",policy="",server_dry_run="false"} 1',
      );
      // The failing app keeps answering (still admitting), and a healthy app on the same metrics keeps mutating.
      expect((await postReview(exampleReview(), failing)).statusCode).toBe(200);
      await expectStillMutates();
    } finally {
      await failing.close();
      await ops.close();
    }
  });

  it('a namespace source that cannot answer: allowed, no patch, a warning naming the namespace', async () => {
    const unreachable = build(sourceWith(async () => ({ found: false, error: 'connect ECONNREFUSED 10.0.0.1:443' })));
    try {
      const response = responseOf((await postReview(exampleReview(), unreachable)).body);
      expect(response.patch).toBeUndefined();
      expect(response.warnings?.join(' ')).toMatch(/namespace shop unavailable/);
      expect(logs.lines.find((l) => l.msg === 'review')).toMatchObject({
        decision: 'skipped',
        reason: 'namespace-unavailable',
      });
    } finally {
      await unreachable.close();
    }
  });

  it('a namespace lookup that never answers is abandoned and the pod admitted unchanged', async () => {
    let aborted = false;
    const hung = build(
      sourceWith(
        (_name, signal) =>
          new Promise<NamespaceLookup>(() => {
            signal?.addEventListener('abort', () => {
              aborted = true;
            });
          }),
      ),
      50,
    );
    try {
      const response = responseOf((await postReview(exampleReview(), hung)).body);
      expect(response.patch).toBeUndefined();
      expect(response.warnings?.join(' ')).toMatch(/unavailable/);
      expect(aborted).toBe(true);
      expect(logs.lines.find((l) => l.msg === 'review')?.detail).toMatch(/timed out after 50 ms/);
    } finally {
      await hung.close();
    }
  });
});
