/**
 * Review time against the size of a pod's own `dnsConfig` (and of its option annotation): the cost must grow
 * linearly, whatever shape the pod has. Mutating admission runs before validation, so a pod with 100,000
 * nameservers does reach the webhook (`kubectl create --dry-run=server` sends one for free).
 *
 * In process, no server: `decide()` alone on the parsed view, and the review as the HTTP route runs it on a body
 * already read (JSON.parse, the envelope, the pod view, decide, the response and its JSON), with the example config.
 *
 * Usage: npm run bench:review-size [-- --out docs/benchmarks.md] [--sizes 10,100,1000,10000,100000] [--min-ms 300]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { median } from '../lab/stats.ts';
import { buildReviewResponse, parseAdmissionReview } from '../src/admission/review.ts';
import { parseConfig } from '../src/config/schema.ts';
import { decide } from '../src/core/decide.ts';
import type { Config, Decision, NamespaceInfo } from '../src/core/types.ts';
import { parsePodView } from '../src/kube/pod.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { fixed, loadAverage, machine, shellWord, table } from './report.ts';

const SECTION_ID = 'bench:review-size';
const SECTION = 'Review time against pod size';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    sizes: { type: 'string', default: '10,100,1000,10000,100000' },
    'min-ms': { type: 'string', default: '300' },
  },
});
const sizes = args.sizes.split(',').map(Number);
const minMs = Number(args['min-ms']);

const configDoc = parse(readFileSync(new URL('../examples/config.yaml', import.meta.url), 'utf8'));
const parsedConfig = parseConfig(configDoc);
if (!parsedConfig.ok) throw new Error(parsedConfig.error);
const config: Config = parsedConfig.config;
const namespace: NamespaceInfo = { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' }, annotations: {} };

/** The pod shapes: each puts `n` entries where a pod author (or an attacker) can. */
const SHAPES: Record<string, { what: string; pod: (n: number) => Record<string, unknown> }> = {
  nameservers: {
    what: '`spec.dnsConfig.nameservers` (the apiserver allows 3)',
    pod: (n) => ({ dnsConfig: { nameservers: Array.from({ length: n }, (_, i) => ipv4(i)) } }),
  },
  searches: {
    what: '`spec.dnsConfig.searches` (the apiserver allows 32)',
    pod: (n) => ({ dnsConfig: { searches: Array.from({ length: n }, (_, i) => `d${i}.example.com`) } }),
  },
  options: {
    what: '`spec.dnsConfig.options` (no count limit: valid at any size)',
    pod: (n) => ({ dnsConfig: { options: Array.from({ length: n }, (_, i) => ({ name: `x-opt-${i}` })) } }),
  },
  tokens: {
    what: 'bad tokens in the `dns-tuner.io/options` pod annotation (one warning each, bounded; over 256 KiB invalid)',
    pod: (n) => ({
      annotations: { 'dns-tuner.io/options': Array.from({ length: n }, (_, i) => `bogus${i}`).join(',') },
    }),
  },
};

function ipv4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function reviewBody(shape: Record<string, unknown>): string {
  const { annotations, dnsConfig } = shape as { annotations?: unknown; dnsConfig?: unknown };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-',
      namespace: 'shop',
      labels: { app: 'web' },
      ...(annotations ? { annotations } : {}),
    },
    spec: {
      containers: [{ name: 'web', image: 'nginx:1.27' }],
      dnsPolicy: 'ClusterFirst',
      ...(dnsConfig ? { dnsConfig } : {}),
    },
  };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '0b3f6f0e-9d0c-4a34-9c0e-2a3b1a7f3c11',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'shop',
      object: pod,
    },
  });
}

/** The review as the /mutate route runs it once the body is read (the namespace lookup is a Map get: left out). */
function review(body: string): { decision: Decision; response: string } {
  const parsed = parseAdmissionReview(JSON.parse(body));
  if (!parsed.ok) throw new Error(parsed.error);
  const object = parsed.request.object ?? {};
  const view = parsePodView(object);
  if (!view.ok) throw new Error(view.error);
  const decision = decide({ config, namespace: 'shop', namespaceInfo: namespace, pod: view.pod, raw: object });
  const response = buildReviewResponse(parsed.request.uid, {
    patch: decision.action === 'mutate' ? decision.patch : undefined,
    warnings: decision.warnings,
  });
  return { decision, response: JSON.stringify(response) };
}

/** Median milliseconds of `run`, repeated until `minMs` have passed (at least 5 times), after one warm-up call. */
function time(run: () => unknown): number {
  run();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 5 || performance.now() - start < minMs) {
    const t0 = performance.now();
    run();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

interface Row {
  shape: string;
  entries: number;
  bodyKiB: number;
  outcome: string;
  warnings: number;
  responseKiB: number;
  decideMs: number;
  reviewMs: number;
}

const rows: Row[] = [];
const loadBefore = loadAverage();
const date = new Date().toISOString();
for (const [shape, { pod }] of Object.entries(SHAPES)) {
  for (const n of sizes) {
    const body = reviewBody(pod(n));
    const object = (JSON.parse(body) as { request: { object: Record<string, unknown> } }).request.object;
    const view = parsePodView(object);
    if (!view.ok) throw new Error(view.error);
    const input = { config, namespace: 'shop', namespaceInfo: namespace, pod: view.pod, raw: object };
    const once = review(body);
    const d = once.decision;
    rows.push({
      shape,
      entries: n,
      bodyKiB: Buffer.byteLength(body) / 1024,
      outcome: d.action === 'skip' ? `skip (${d.reason})` : d.action,
      warnings: d.warnings.length,
      responseKiB: Buffer.byteLength(once.response) / 1024,
      decideMs: time(() => decide(input)),
      reviewMs: time(() => review(body)),
    });
    process.stderr.write(`bench:review-size: ${shape} ${n} done\n`);
  }
}
const loadAfter = loadAverage();

const m = machine();
const argv = process.argv.slice(2).map(shellWord);
const command = ['npm run bench:review-size', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ');
const text = [
  `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memory}; Node ${m.node}.`,
  `- Command: \`${command}\` (median of repeated runs, at least ${minMs} ms and 5 runs per cell, after a warm-up).`,
  `- Date: ${date}. Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}.`,
  '- `decide` is the engine alone on the parsed pod view; `review` is what the /mutate route does once the body is',
  '  read: `JSON.parse`, the envelope, the pod view (zod), `decide`, the response and its JSON (example config,',
  '  namespace `shop` on the node-local `default` policy). µs/KiB divides the review time by the request size: a',
  '  flat column is linear cost.',
  '- Before issue 9, as reported there: 40–90 s for 100,000 nameservers (190,000 overflowed the stack), 28 s for',
  '  100,000 searches; 130,000 bad option tokens made an internal error.',
  '',
  ...Object.entries(SHAPES).flatMap(([shape, { what }]) => [
    `### ${shape}: ${what}`,
    '',
    table(
      ['entries', 'request KiB', 'outcome', 'warnings', 'response KiB', 'decide ms', 'review ms', 'review µs/KiB'],
      rows
        .filter((r) => r.shape === shape)
        .map((r) => [
          r.entries.toLocaleString('en-US'),
          fixed(r.bodyKiB, 1),
          r.outcome,
          String(r.warnings),
          fixed(r.responseKiB, 1),
          fixed(r.decideMs, 3),
          fixed(r.reviewMs, 3),
          fixed((r.reviewMs * 1000) / r.bodyKiB, 1),
        ]),
      '--:|--:|---|--:|--:|--:|--:|--:',
    ),
    '',
  ]),
].join('\n');

process.stdout.write(`## ${SECTION}\n\n${text}\n`);
if (args.out) {
  writeMarkedSection(args.out, SECTION_ID, SECTION, text);
  process.stderr.write(`bench:review-size: wrote "## ${SECTION}" in ${args.out}\n`);
}
