/**
 * The golden corpus of /mutate: requests covering every outcome the webhook can give — each decision and reason,
 * pods with and without annotations or their own dnsConfig, every namespace of the example file, requests that are
 * not pod creates, envelopes and bodies it refuses — and what the webhook answered them, recorded once and compared
 * byte for byte ever after (test/http/golden.test.ts): the HTTP status, the Content-Type, the body, the log line(s)
 * each request wrote (without time, pid and latency) and the review metrics once the corpus has run.
 *
 * A change that is meant to keep every answer (a performance change) must pass unchanged. A change that means to
 * change answers re-records with `node test/http/golden.record.ts` and shows the difference in its diff.
 */
import { fileURLToPath } from 'node:url';
import { httpsPost } from '../../lab/client.ts';
import { SERVICE_NAME } from '../../lab/paths.ts';
import { podReview, SMALL, TYPICAL } from '../../lab/pod-reviews.ts';
import { exampleReview, type Json, reviewIn } from '../../lab/review.ts';
import { startHttpsWebhook } from './webhook.ts';

export const GOLDEN_FILE = fileURLToPath(new URL('../http/fixtures/golden.json', import.meta.url));

export interface GoldenRequest {
  name: string;
  path: string;
  contentType: string;
  body: string;
}

export interface GoldenAnswer {
  name: string;
  status: number;
  contentType: string | undefined;
  connection: string | undefined;
  body: string;
  /** The lines logged while the request was answered, without time, pid and latencyMs. */
  log: Json[];
}

export interface Golden {
  answers: GoldenAnswer[];
  /** dns_tuner_* samples after the corpus (histogram buckets and sums left out: they depend on timing). */
  metrics: string[];
}

type Review = { request: Json & { object: Json & { metadata: Json; spec: Json } } };

function pod(namespace: string, tweak: (review: Review) => void): Json {
  return reviewIn(namespace, (r) => tweak(r as unknown as Review));
}

function annotate(annotations: Record<string, string>) {
  return (r: Review) => {
    r.request.object.metadata.annotations = {
      ...(r.request.object.metadata.annotations as Record<string, string>),
      ...annotations,
    };
  };
}

/** The corpus, in order; the uid of each review is unique so every answer names its request. */
export function goldenCorpus(): GoldenRequest[] {
  const reviews: Array<[string, Json]> = [];
  const add = (name: string, review: Json) => reviews.push([name, review]);

  for (const ns of ['shop', 'payments', 'edge', 'staging', 'legacy', 'nowhere'])
    add(`example pod in ${ns}`, reviewIn(ns));
  add('typical pod (bench fixture) in shop', podReview(TYPICAL, { namespace: 'shop' }));
  add('small pod without annotations in shop', podReview(SMALL, { namespace: 'shop' }));
  add('typical pod in payments', podReview(TYPICAL, { namespace: 'payments' }));
  add(
    'pod with its own dnsConfig',
    pod('shop', (r) => {
      r.request.object.spec.dnsConfig = {
        nameservers: ['10.0.0.53'],
        searches: ['corp.example.com'],
        options: [{ name: 'ndots', value: '1' }, { name: 'edns0' }, { name: 'rotate', value: null }],
      };
    }),
  );
  add(
    'pod with its own dnsConfig options only, in payments',
    pod('payments', (r) => {
      r.request.object.spec.dnsConfig = { options: [{ name: 'timeout', value: '3' }] };
    }),
  );
  add(
    'pod annotations: ndots and options',
    pod(
      'shop',
      annotate({ 'dns-tuner.io/ndots': '1', 'dns-tuner.io/options': 'rotate,-single-request-reopen,timeout:2' }),
    ),
  );
  add(
    'pod annotations: invalid values',
    pod(
      'shop',
      annotate({
        'dns-tuner.io/ndots': 'abc',
        'dns-tuner.io/options': 'timeout:0,bogus,attempts:9',
        'dns-tuner.io/node-local': 'maybe',
      }),
    ),
  );
  add('pod annotation: node-local false', pod('shop', annotate({ 'dns-tuner.io/node-local': 'false' })));
  add('pod annotation: fallback false', pod('shop', annotate({ 'dns-tuner.io/fallback': 'false' })));
  add('pod annotation: mode dry-run', pod('shop', annotate({ 'dns-tuner.io/mode': 'dry-run' })));
  add('pod annotation: mode Dry-Run (fails safe)', pod('shop', annotate({ 'dns-tuner.io/mode': 'Dry-Run' })));
  add('pod annotation: skip true', pod('shop', annotate({ 'dns-tuner.io/skip': 'true' })));
  add('pod annotation: skip yes (fails safe)', pod('shop', annotate({ 'dns-tuner.io/skip': 'yes' })));
  add('pod annotation: skip false', pod('shop', annotate({ 'dns-tuner.io/skip': 'false' })));
  add('pod annotations in payments (no pod overrides)', pod('payments', annotate({ 'dns-tuner.io/ndots': '2' })));
  add(
    'pod label skip',
    pod('shop', (r) => {
      r.request.object.metadata.labels = { app: 'x', 'dns-tuner.io/skip': 'true' };
    }),
  );
  add('already applied annotation, ClusterFirst', pod('shop', annotate({ 'dns-tuner.io/applied': 'default: old' })));
  for (const dnsPolicy of ['None', 'Default', 'ClusterFirstWithHostNet', 'Bogus']) {
    add(
      `dnsPolicy ${dnsPolicy}`,
      pod('shop', (r) => {
        r.request.object.spec.dnsPolicy = dnsPolicy;
        if (dnsPolicy === 'None') r.request.object.spec.dnsConfig = { nameservers: ['1.1.1.1'] };
      }),
    );
  }
  add(
    'dnsPolicy None already applied',
    pod('shop', (r) => {
      r.request.object.spec.dnsPolicy = 'None';
      annotate({ 'dns-tuner.io/applied': 'default: x' })(r);
    }),
  );
  add(
    'no dnsPolicy (defaulted)',
    pod('shop', (r) => {
      delete r.request.object.spec.dnsPolicy;
    }),
  );
  add(
    'hostNetwork ClusterFirst',
    pod('shop', (r) => {
      r.request.object.spec.hostNetwork = true;
    }),
  );
  add(
    'hostNetwork ClusterFirstWithHostNet',
    pod('shop', (r) => {
      r.request.object.spec.hostNetwork = true;
      r.request.object.spec.dnsPolicy = 'ClusterFirstWithHostNet';
    }),
  );
  add(
    'Windows by os.name',
    pod('shop', (r) => {
      r.request.object.spec.os = { name: 'windows' };
    }),
  );
  add(
    'Windows by nodeSelector',
    pod('shop', (r) => {
      r.request.object.spec.nodeSelector = { 'kubernetes.io/os': 'windows' };
    }),
  );
  add(
    'invalid pod: a label that is not a string',
    pod('shop', (r) => {
      r.request.object.metadata.labels = { app: 7 };
    }),
  );
  add(
    'invalid pod: 40 searches',
    pod('shop', (r) => {
      r.request.object.spec.dnsConfig = { searches: Array.from({ length: 40 }, (_, i) => `s${i}.example.com`) };
    }),
  );
  add(
    'result would be invalid: 30 searches of the pod plus ours',
    pod('shop', (r) => {
      r.request.object.spec.dnsConfig = { searches: Array.from({ length: 30 }, (_, i) => `s${i}.example.com`) };
    }),
  );
  add(
    'result would be invalid: 31 searches of the pod plus ours',
    pod('shop', (r) => {
      r.request.object.spec.dnsConfig = { searches: Array.from({ length: 31 }, (_, i) => `s${i}.example.com`) };
    }),
  );
  add(
    'already tuned (options-only): unchanged',
    pod('payments', (r) => {
      r.request.object.spec.dnsConfig = {
        options: [{ name: 'single-request-reopen' }, { name: 'timeout', value: '2' }, { name: 'attempts', value: '3' }],
      };
      annotate({
        'dns-tuner.io/applied':
          'options-only: dnsPolicy=ClusterFirst options=single-request-reopen,timeout:2,attempts:3',
      })(r);
    }),
  );
  add('annotations near the 256 KiB limit', pod('shop', annotate({ 'example.com/blob': 'x'.repeat(262_000) })));
  add(
    'non-ASCII and escapes in the pod',
    pod('shop', (r) => {
      r.request.object.metadata.annotations = { note: 'caf\u00e9 \u2603 <a&b> "q" \\ \u0001' };
    }),
  );
  add(
    'no namespace anywhere',
    pod('shop', (r) => {
      delete r.request.namespace;
      delete r.request.object.metadata.namespace;
    }),
  );
  add(
    'namespace only in the pod',
    pod('shop', (r) => {
      delete r.request.namespace;
    }),
  );
  add(
    'not a pod',
    pod('shop', (r) => {
      r.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    }),
  );
  add(
    'UPDATE',
    pod('shop', (r) => {
      r.request.operation = 'UPDATE';
    }),
  );
  add(
    'subresource',
    pod('shop', (r) => {
      r.request.subResource = 'ephemeralcontainers';
    }),
  );
  add(
    'dryRun request',
    pod('shop', (r) => {
      r.request.dryRun = true;
    }),
  );
  add(
    'object null',
    pod('shop', (r) => {
      r.request.object = null as unknown as Review['request']['object'];
    }),
  );
  add(
    'object missing',
    pod('shop', (r) => {
      delete (r.request as Json).object;
    }),
  );

  const requests: GoldenRequest[] = reviews.map(([name, review], i) => {
    (review.request as Json).uid = `golden-${String(i).padStart(3, '0')}`;
    return { name, path: '/mutate', contentType: 'application/json', body: JSON.stringify(review) };
  });

  // Requests the webhook refuses.
  const envelope = (tweak: (r: Json & { request: Json }) => void) => {
    const review = exampleReview() as Json & { request: Json };
    review.request.uid = 'golden-envelope';
    tweak(review);
    return JSON.stringify(review);
  };
  const bad: Array<[string, string, string]> = [
    ['syntax error', 'application/json', '{"apiVersion": "admission.k8s.io/v1", "kind": '],
    ['empty body', 'application/json', ''],
    ['__proto__ key', 'application/json', '{"apiVersion":"admission.k8s.io/v1","__proto__":{"x":1}}'],
    ['escaped __proto__ key', 'application/json', '{"request":{"\\u005f_proto__":{"x":1}}}'],
    ['constructor.prototype', 'application/json', '{"a":{"constructor":{"prototype":{"x":1}}}}'],
    [
      'constructor without prototype',
      'application/json',
      envelope((r) => {
        Object.assign(r.request, { constructor: { name: 'x' } });
      }),
    ],
    ['a JSON array', 'application/json', '[1,2,3]'],
    ['a JSON string', 'application/json', '"review"'],
    [
      'wrong apiVersion',
      'application/json',
      envelope((r) => {
        r.apiVersion = 'admission.k8s.io/v1beta1';
      }),
    ],
    [
      'no request',
      'application/json',
      envelope((r) => {
        delete (r as Json).request;
      }),
    ],
    [
      'empty uid',
      'application/json',
      envelope((r) => {
        r.request.uid = '';
      }),
    ],
    [
      'kind not an object, operation a number',
      'application/json',
      envelope((r) => {
        r.request.kind = 'Pod';
        r.request.operation = 7;
      }),
    ],
    [
      'object an array',
      'application/json',
      envelope((r) => {
        r.request.object = [1];
      }),
    ],
    ['text/plain', 'text/plain', envelope(() => {})],
    ['application/xml', 'application/xml', '<review/>'],
    ['charset in Content-Type', 'application/json; charset=utf-8', envelope(() => {})],
  ];
  for (const [name, contentType, body] of bad) requests.push({ name, path: '/mutate', contentType, body });
  requests.push({ name: 'unknown path', path: '/mutate/x', contentType: 'application/json', body: '{}' });
  return requests;
}

const VOLATILE = new Set(['time', 'pid', 'hostname', 'latencyMs']);

/** Runs the corpus against the webhook as the tests wire it (example config and namespaces, real HTTPS). */
export async function runGolden(requests: readonly GoldenRequest[]): Promise<Golden> {
  const web = await startHttpsWebhook({ caName: 'golden CA', hosts: [SERVICE_NAME] });
  try {
    const answers: GoldenAnswer[] = [];
    for (const request of requests) {
      const before = web.logs.lines.length;
      const res = await httpsPost(
        web.port,
        request.path,
        request.body,
        { ca: web.ca.cert, servername: SERVICE_NAME },
        { 'content-type': request.contentType },
      );
      // The log line is written before the answer leaves; give a refused request's line a moment anyway.
      await new Promise((r) => setImmediate(r));
      const log = web.logs.lines
        .slice(before)
        .map((line) => Object.fromEntries(Object.entries(line).filter(([k]) => !VOLATILE.has(k))));
      const header = (name: string) => {
        const value = res.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      };
      answers.push({
        name: request.name,
        status: res.status,
        contentType: header('content-type'),
        connection: header('connection'),
        body: res.body,
        log,
      });
    }
    const text = await web.deps.registry.metrics();
    const metrics = text
      .split('\n')
      .filter((l) => l.startsWith('dns_tuner_'))
      .filter((l) => !l.startsWith('dns_tuner_review_duration_seconds_bucket'))
      .filter((l) => !l.startsWith('dns_tuner_review_duration_seconds_sum'))
      .filter((l) => !l.startsWith('dns_tuner_build_info'));
    return { answers, metrics };
  } finally {
    await web.close();
  }
}
