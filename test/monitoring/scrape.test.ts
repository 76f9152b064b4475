/**
 * The operator's view, for real: the built webhook (`dist/main.js`, watching namespaces through the fake API server)
 * scraped by a real Prometheus with the documented scrape job and the alerting rules loaded. The test drives a review
 * of every decision and reason the code has, a few dry-runs, a refused request and a rejected config file, then asks
 * Prometheus — not the webhook — whether every metric and label README.md documents is there with the expected
 * values, whether every alert evaluates (and the ones this state should trigger are pending), and whether every
 * dashboard query evaluates.
 */
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { metricValue, readyz, scrape } from '../../lab/client.ts';
import {
  denyAllEgress,
  dnsToKubeDnsOnly,
  kubeDnsService,
  nodeLocalDaemonSet,
  seedClusterDns,
} from '../../lab/cluster-dns.ts';
import { eventually } from '../../lab/eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { ROOT } from '../../lab/paths.ts';
import { makeCa, makeServingCert } from '../../lab/pki.ts';
import {
  isolatedEnv,
  loopbackPorts,
  MAIN,
  type NodeRun,
  requireBuilt,
  spawnNode,
  waitForLog,
} from '../../lab/process.ts';
import { ACTION_REASON } from '../../src/core/decide.ts';
import { CLUSTER_REASONS, SKIP_REASONS } from '../../src/core/types.ts';
import { INTERNAL_ERROR_REASON, REQUEST_REASONS } from '../../src/review/outcome.ts';
import { type RunningPrometheus, type Sample, startPrometheus } from '../support/prometheus.ts';
import { EXAMPLE_CONFIG, type Json, responseOf, reviewIn } from '../support/webhook.ts';
import {
  alertRules,
  auditRecipeQueries,
  dashboardQueries,
  dnsTunerMetrics,
  documentedMetrics,
  grafanaExpand,
  JOB,
  RULES,
  SCRAPE_CONFIG,
} from './kit.ts';

const POLICY = 'dns-tuner.io/policy';

/**
 * Reasons no request from outside can produce in a healthy process: each is a guard against a bug. Every other
 * reason the code has must be driven below.
 */
const NOT_DRIVABLE: Record<string, string> = {
  'invalid-result':
    'buildTarget trims nameservers and searches to the apiserver limits first, so only a bug in it reaches this guard',
  'internal-error':
    'needs the engine or the namespace source to throw; test/http/bad-input.test.ts drives it with a failing source',
};

type Tweak = (review: { request: Json & { object: Json } }) => void;
interface Drive {
  /** What the review is about, for failure messages. */
  what: string;
  namespace: string;
  tweak?: Tweak;
  /** The pod of an earlier review's answer (a replay, a reinvocation). */
  patchedFrom?: string;
  decision: string;
  reason: string;
  /** The reviews' `policy` label: a configured name, `unknown` or ''. */
  policy: string;
  /** Changes the fake cluster before the review and waits until the webhook sees it; returns the undo. */
  cluster?: () => Promise<() => Promise<void>>;
}

/** Polls the webhook's own /metrics until `check` holds: the cluster facts caught up with the fake API. */
async function webhookSees(check: (metrics: string) => boolean): Promise<void> {
  await eventually(async () => expect(check(await scrape(ports.ops))).toBe(true), 10_000);
}

/** Replaces an object of the fake cluster for one review, and waits for the webhook to see it both ways. */
function changed(
  resource: 'daemonsets' | 'services',
  during: Parameters<FakeKubeApi['updateObject']>[1],
  before: Parameters<FakeKubeApi['updateObject']>[1],
  seen: (metrics: string) => boolean,
): () => Promise<() => Promise<void>> {
  return async () => {
    fake.updateObject(resource, during);
    await webhookSees(seen);
    return async () => {
      fake.updateObject(resource, before);
      await webhookSees((metrics) => !seen(metrics));
    };
  };
}

const INFO = 'dns_tuner_cluster_info';

const spec = (r: { request: { object: Json } }) => r.request.object.spec as Json;
const metadata = (r: { request: { object: Json } }) => r.request.object.metadata as Json;

/** One review per case; `already-tuned` and `already-applied` replay the patched pod of the case named. */
const DRIVES: Drive[] = [
  { what: 'a pod in shop', namespace: 'shop', decision: 'mutated', reason: ACTION_REASON.mutate, policy: 'default' },
  {
    what: 'a pod in payments',
    namespace: 'payments',
    decision: 'mutated',
    reason: ACTION_REASON.mutate,
    policy: 'options-only',
  },
  {
    what: 'a pod in locked ("DNS only to kube-dns")',
    namespace: 'locked',
    decision: 'mutated',
    reason: 'node-local-blocked-by-networkpolicy',
    policy: 'default',
  },
  {
    what: 'a pod in shop while the node-local DaemonSet has no available pod',
    namespace: 'shop',
    cluster: changed('daemonsets', nodeLocalDaemonSet({ available: 0 }), nodeLocalDaemonSet(), (m) => {
      return metricValue(m, 'dns_tuner_node_local_available') === 0;
    }),
    decision: 'mutated',
    reason: 'node-local-unavailable',
    policy: 'default',
  },
  {
    what: 'a pod in shop while the cache runs in transparent (iptables) mode',
    namespace: 'shop',
    cluster: changed('daemonsets', nodeLocalDaemonSet({ transparent: true }), nodeLocalDaemonSet(), (m) =>
      m.includes('node_local_mode="transparent"'),
    ),
    decision: 'mutated',
    reason: 'node-local-transparent',
    policy: 'default',
  },
  {
    what: 'a pod in shop while the kube-dns Service is not on the configured clusterDNS',
    namespace: 'shop',
    cluster: changed('services', kubeDnsService(['10.96.0.11']), kubeDnsService(), (m) => {
      return metricValue(m, 'dns_tuner_cluster_mismatch', 'field="clusterDNS"') === 1;
    }),
    decision: 'mutated',
    reason: 'cluster-dns-mismatch',
    policy: 'default',
  },
  {
    what: 'a pod in staging (dry-run)',
    namespace: 'staging',
    decision: 'dry-run',
    reason: ACTION_REASON['dry-run'],
    policy: 'default',
  },
  {
    what: 'the payments pod again, as patched',
    namespace: 'payments',
    patchedFrom: 'a pod in payments',
    decision: 'unchanged',
    reason: ACTION_REASON.unchanged,
    policy: 'options-only',
  },
  {
    what: 'the shop pod again, as patched (dnsPolicy None)',
    namespace: 'shop',
    patchedFrom: 'a pod in shop',
    decision: 'skipped',
    reason: 'already-applied',
    policy: 'default',
  },
  {
    what: 'a pod annotated dns-tuner.io/skip',
    namespace: 'shop',
    tweak: (r) => {
      metadata(r).annotations = { 'dns-tuner.io/skip': 'true' };
    },
    decision: 'skipped',
    reason: 'pod-opt-out',
    policy: '',
  },
  {
    what: 'a pod in a namespace nobody created',
    namespace: 'ghost',
    decision: 'skipped',
    reason: 'namespace-unknown',
    policy: '',
  },
  { what: 'a pod in legacy', namespace: 'legacy', decision: 'skipped', reason: 'namespace-not-opted-in', policy: '' },
  { what: 'a pod in typo', namespace: 'typo', decision: 'skipped', reason: 'unknown-policy', policy: 'unknown' },
  {
    what: 'dnsPolicy Default',
    namespace: 'shop',
    tweak: (r) => {
      spec(r).dnsPolicy = 'Default';
    },
    decision: 'skipped',
    reason: 'dns-policy-default',
    policy: 'default',
  },
  {
    what: 'dnsPolicy None',
    namespace: 'shop',
    tweak: (r) => {
      spec(r).dnsPolicy = 'None';
      spec(r).dnsConfig = { nameservers: ['192.0.2.53'] };
    },
    decision: 'skipped',
    reason: 'dns-policy-none',
    policy: 'default',
  },
  {
    what: 'hostNetwork with ClusterFirst',
    namespace: 'shop',
    tweak: (r) => {
      spec(r).hostNetwork = true;
    },
    decision: 'skipped',
    reason: 'host-network',
    policy: 'default',
  },
  {
    what: 'a Windows pod',
    namespace: 'shop',
    tweak: (r) => {
      spec(r).os = { name: 'windows' };
    },
    decision: 'skipped',
    reason: 'windows',
    policy: 'default',
  },
  {
    what: 'an unknown dnsPolicy',
    namespace: 'shop',
    tweak: (r) => {
      spec(r).dnsPolicy = 'ClusterLast';
    },
    decision: 'skipped',
    reason: 'dns-policy-unknown',
    policy: 'default',
  },
  {
    what: 'a pod whose namespace cannot be read (GET fails)',
    namespace: 'unreachable',
    decision: 'skipped',
    reason: 'namespace-unavailable',
    policy: '',
  },
  {
    what: 'a Deployment',
    namespace: 'shop',
    tweak: (r) => {
      r.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    },
    decision: 'skipped',
    reason: 'not-a-pod',
    policy: '',
  },
  {
    what: 'a pod UPDATE',
    namespace: 'shop',
    tweak: (r) => {
      r.request.operation = 'UPDATE';
    },
    decision: 'skipped',
    reason: 'not-create',
    policy: '',
  },
  {
    what: 'a subresource',
    namespace: 'shop',
    tweak: (r) => {
      r.request.subResource = 'status';
    },
    decision: 'skipped',
    reason: 'subresource',
    policy: '',
  },
  {
    what: 'a pod the engine cannot read',
    namespace: 'shop',
    tweak: (r) => {
      spec(r).hostNetwork = 'yes';
    },
    decision: 'skipped',
    reason: 'invalid-pod',
    policy: '',
  },
  {
    what: 'a review without a namespace',
    namespace: '',
    tweak: (r) => {
      delete metadata(r).namespace;
    },
    decision: 'skipped',
    reason: 'no-namespace',
    policy: '',
  },
];

/** The same lookup failing again once Prometheus has the series: rate() needs an increase between two scrapes. */
const SECOND_UNAVAILABLE = DRIVES.find((d) => d.reason === 'namespace-unavailable')!;

let dir: string;
let fake: FakeKubeApi;
let webhook: NodeRun;
let prometheus: RunningPrometheus;
let ports: { webhook: number; ops: number };
let caCert: string;
let notAfter: Date;
const sent = new Map<string, number>();
const dryRuns = { pod: 0, namespace: 0, badInput: 0 };

function post(path: string, body: string, contentType = 'application/json'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: ports.webhook,
        path,
        method: 'POST',
        ca: caCert,
        servername: 'localhost',
        agent: false,
        headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        { host: '127.0.0.1', port: ports.webhook, path, ca: caCert, servername: 'localhost', agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      )
      .on('error', reject);
  });
}

/** As byLabels() writes it: an empty label is no label. */
const key = (decision: string, reason: string, policy: string) => `${decision} ${reason} ${policy}`;

/** Sends the review a case describes; returns the answer. */
async function drive(d: Drive, patchedPods: Map<string, Json>): Promise<void> {
  const review = reviewIn(d.namespace, d.tweak) as { request: Json & { object: Json } };
  if (d.patchedFrom !== undefined) review.request.object = structuredClone(patchedPods.get(d.patchedFrom)!);
  if (d.reason === 'namespace-unavailable') fake.setFault('get', 'error');
  const undo = await d.cluster?.();
  try {
    const res = await post('/mutate', JSON.stringify(review));
    expect(res.status, `${d.what}: ${res.body}`).toBe(200);
    const response = responseOf(res.body);
    expect(response.allowed).toBe(true);
    if (response.patch !== undefined) {
      const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString()) as jsonpatch.Operation[];
      patchedPods.set(d.what, jsonpatch.applyPatch(structuredClone(review.request.object), ops).newDocument);
    }
  } finally {
    fake.setFault('get', 'none');
    await undo?.();
  }
  const k = key(d.decision, d.reason, d.policy);
  sent.set(k, (sent.get(k) ?? 0) + 1);
}

function total(): number {
  return [...sent.values()].reduce((a, b) => a + b, 0);
}

/** Polls Prometheus until `check` passes (it scrapes every second). */
function seen<T>(check: () => Promise<T>): Promise<T> {
  return eventually(check, 20_000);
}

beforeAll(async () => {
  requireBuilt(MAIN);
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-scrape-'));

  // A serving certificate with one day left: the certificate alerts must go pending.
  const ca = await makeCa();
  const serving = await makeServingCert(ca, { hosts: ['localhost'], days: 1 });
  caCert = ca.cert;
  notAfter = new Date(new X509Certificate(serving.cert).validTo);
  await writeFile(join(dir, 'tls.crt'), serving.cert);
  await writeFile(join(dir, 'tls.key'), serving.key, { mode: 0o600 });
  await copyFile(EXAMPLE_CONFIG, join(dir, 'config.yaml'));

  fake = await startFakeKubeApi();
  fake.create('shop', { labels: { [POLICY]: 'default' } });
  fake.create('edge', { labels: { [POLICY]: 'default' }, annotations: { 'dns-tuner.io/ndots': '2' } });
  fake.create('payments', { labels: { [POLICY]: 'options-only' } });
  fake.create('staging', { labels: { [POLICY]: 'default' }, annotations: { 'dns-tuner.io/mode': 'dry-run' } });
  fake.create('typo', { labels: { [POLICY]: 'no-such-policy' } });
  fake.create('legacy');
  // The cluster's DNS: kube-dns, CoreDNS, a NodeLocal DNSCache in link-local mode; and a namespace whose egress
  // policies let DNS reach kube-dns only.
  seedClusterDns(fake);
  fake.create('locked', { labels: { [POLICY]: 'default' } });
  fake.createObject('networkpolicies', denyAllEgress('locked'));
  fake.createObject('networkpolicies', dnsToKubeDnsOnly('locked'));

  webhook = spawnNode(
    MAIN,
    [
      '--kubeconfig',
      fake.kubeconfigPath,
      '--config',
      join(dir, 'config.yaml'),
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      ...loopbackPorts(),
    ],
    { env: isolatedEnv({ HOME: dir }) },
  );
  const listening = await waitForLog(webhook, 'listening');
  ports = { webhook: listening.port as number, ops: listening.opsPort as number };
  await eventually(async () => expect((await readyz(ports.ops)).status).toBe(200), 15_000);

  // The documented scrape job, with discovery swapped for the target the endpoints API would return: the same
  // __meta labels, the relabelling as shipped. A decoy (the Service's https port) must be dropped by it.
  const shipped = parse(await readFile(SCRAPE_CONFIG, 'utf8')) as { scrape_configs: Json[] };
  const job = shipped.scrape_configs.find((j) => j.job_name === JOB)!;
  const meta = (port: string, address: string) => ({
    targets: [address],
    labels: {
      __meta_kubernetes_service_name: 'dns-tuner',
      __meta_kubernetes_endpoint_port_name: port,
      __meta_kubernetes_namespace: 'dns-tuner',
      __meta_kubernetes_pod_name: 'dns-tuner-7c9d8-x2k4q',
    },
  });
  const { kubernetes_sd_configs: _discovery, ...rest } = job;
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [RULES],
    scrape_configs: [
      {
        ...rest,
        scrape_interval: '1s',
        static_configs: [meta('metrics', `127.0.0.1:${ports.ops}`), meta('https', `127.0.0.1:${ports.webhook}`)],
      },
    ],
  };
  prometheus = await startPrometheus(config, dir);

  const patchedPods = new Map<string, Json>();
  for (const d of DRIVES) await drive(d, patchedPods);

  // /dry-run is counted apart from reviews.
  const pod = JSON.stringify((reviewIn('shop') as { request: { object: Json } }).request.object);
  expect((await post('/dry-run', pod)).status).toBe(200);
  dryRuns.pod++;
  expect((await post('/dry-run', 'kind: [', 'application/yaml')).status).toBe(400);
  dryRuns.badInput++;
  expect((await get('/dry-run/namespaces/shop')).status).toBe(200);
  expect((await get('/dry-run/namespaces/legacy')).status).toBe(200);
  dryRuns.namespace += 2;
  // Not an AdmissionReview: refused with a code.
  expect((await post('/mutate', '{"kind":"Pod"}')).status).toBe(400);

  // A config edit that fails validation: rejected, the last good one stays.
  await writeFile(join(dir, 'config.yaml'), 'mode: sometimes\n');
  await seen(async () => expect(await prometheus.value('dns_tuner_config_last_reload_successful')).toBe(0));
  await seen(async () => expect(await prometheus.value('sum(dns_tuner_reviews_total)')).toBe(total()));
  await drive(SECOND_UNAVAILABLE, patchedPods);
  await seen(async () => expect(await prometheus.value('sum(dns_tuner_reviews_total)')).toBe(total()));
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  await webhook?.stop();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function byLabels(samples: Sample[], ...labels: string[]): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [labels.map((l) => s.labels[l] ?? '').join(' '), s.value]));
}

describe('a real Prometheus scraping the built webhook', () => {
  it('scrapes it through the documented job: one target, up, labelled with its namespace and pod', async () => {
    const targets = await prometheus.targets();
    const ours = targets.activeTargets.filter((t) => t.labels.job === JOB);
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ health: 'up', lastError: '' });
    expect(ours[0]!.labels).toMatchObject({ namespace: 'dns-tuner', pod: 'dns-tuner-7c9d8-x2k4q' });
    // The decoy (the https port of the same Service) is discovered and dropped.
    expect(targets.droppedTargets.map((t) => t.discoveredLabels.__meta_kubernetes_endpoint_port_name)).toEqual([
      'https',
    ]);
  });

  it('has every metric README.md documents, with every documented label', async () => {
    const missing: string[] = [];
    for (const metric of documentedMetrics()) {
      const selector = metric.wildcard
        ? `{__name__=~"${metric.name}.+"}`
        : `{__name__=~"${metric.name}(_bucket|_count|_sum)?"}`;
      const samples = await prometheus.query(selector);
      if (samples.length === 0) {
        missing.push(`${metric.name}${metric.wildcard ? '*' : ''}: no series`);
        continue;
      }
      for (const label of metric.labels) {
        if (!samples.some((s) => Object.hasOwn(s.labels, label))) missing.push(`${metric.name}: no label ${label}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every decision and reason the code has is driven (or said why not), and counted exactly', async () => {
    const codeReasons = new Set([
      ...SKIP_REASONS,
      ...Object.values(ACTION_REASON),
      ...CLUSTER_REASONS,
      ...REQUEST_REASONS,
      INTERNAL_ERROR_REASON,
    ]);
    const driven = new Set(DRIVES.map((d) => d.reason));
    const undriven = [...codeReasons].filter((r) => !driven.has(r) && !Object.hasOwn(NOT_DRIVABLE, r));
    expect(undriven, 'reasons in the code that this test neither drives nor lists in NOT_DRIVABLE').toEqual([]);
    expect(Object.keys(NOT_DRIVABLE).filter((r) => !codeReasons.has(r) || driven.has(r))).toEqual([]);

    const counted = byLabels(await prometheus.query('dns_tuner_reviews_total'), 'decision', 'reason', 'policy');
    expect(counted).toEqual(Object.fromEntries(sent));
  });

  it('times every review by decision', async () => {
    const perDecision: Record<string, number> = {};
    for (const [k, n] of sent) {
      const decision = k.split(' ')[0]!;
      perDecision[decision] = (perDecision[decision] ?? 0) + n;
    }
    const timed = byLabels(
      await prometheus.query('sum by (decision) (dns_tuner_review_duration_seconds_count)'),
      'decision',
    );
    expect(timed).toEqual(perDecision);
    expect(await prometheus.value('dns_tuner_requests_in_flight')).toBe(0);
    expect(await prometheus.value('dns_tuner_review_errors_total')).toBe(0);
  });

  it('counts adoption by policy and effective mode, unknown policies apart', async () => {
    const adoption = byLabels(await prometheus.query('dns_tuner_namespaces'), 'policy', 'mode');
    expect(adoption).toEqual({
      'default enforce': 3, // shop, edge, locked
      'default dry-run': 1, // staging
      'options-only enforce': 1, // payments
      'options-only dry-run': 0,
      'unknown enforce': 1, // typo
    });
  });

  it('reports readiness per check, the certificate, the config, the namespace cache, dry-runs and refusals', async () => {
    expect(byLabels(await prometheus.query('dns_tuner_ready'), 'check')).toEqual({
      namespaces: 1,
      'cluster-facts': 1,
      certificate: 1,
      shutdown: 1,
    });
    expect(await prometheus.value('dns_tuner_certificate_expiry_timestamp_seconds')).toBe(notAfter.getTime() / 1000);
    expect(byLabels(await prometheus.query('dns_tuner_certificate_reloads_total'), 'result')).toEqual({
      ok: 0,
      failed: 0,
    });
    expect(byLabels(await prometheus.query('dns_tuner_config_reloads_total'), 'result')).toEqual({ ok: 0, failed: 1 });
    expect(await prometheus.value('dns_tuner_config_last_reload_successful')).toBe(0);
    const loaded = await prometheus.value('dns_tuner_config_last_reload_success_timestamp_seconds');
    expect(loaded).toBeGreaterThan(Date.now() / 1000 - 120);

    expect(await prometheus.value('dns_tuner_namespace_cache_size')).toBe(fake.names().length);
    expect(await prometheus.value('dns_tuner_namespace_last_event_age_seconds')).toBeLessThan(60);
    expect(await prometheus.value('dns_tuner_namespace_relists_total{reason="initial"}')).toBe(1);
    const gets = byLabels(await prometheus.query('dns_tuner_namespace_direct_gets_total'), 'result');
    // ghost: 404; unreachable: the injected 500, twice.
    expect(gets).toMatchObject({ 'not-found': 1, error: 2 });
    expect((await prometheus.query('dns_tuner_namespace_watch_restarts_total')).length).toBeGreaterThan(0);

    const dryRun = byLabels(await prometheus.query('sum by (route) (dns_tuner_dry_run_requests_total)'), 'route');
    expect(dryRun).toEqual({ pod: dryRuns.pod + dryRuns.badInput, namespace: dryRuns.namespace });
    expect(await prometheus.value('dns_tuner_dry_run_requests_total{route="pod",result="bad-input"}')).toBe(1);
    expect(byLabels(await prometheus.query('dns_tuner_dry_run_requests_total{route="namespace"}'), 'result')).toEqual({
      'opted-in': 1,
      'not-opted-in': 1,
    });
    expect(byLabels(await prometheus.query('dns_tuner_invalid_requests_total'), 'code')).toEqual({
      DNS_TUNER_BAD_REVIEW: 1,
    });

    // The cluster as it was set up (every drive undid its change), and the facts' caches.
    expect((await prometheus.query(INFO)).map((s) => s.labels)).toEqual([
      expect.objectContaining({
        kube_dns_ip: '10.96.0.10',
        cluster_domain: 'cluster.local',
        node_local_mode: 'link-local',
      }),
    ]);
    expect(await prometheus.value('dns_tuner_node_local_available')).toBe(1);
    expect(byLabels(await prometheus.query('dns_tuner_cluster_mismatch'), 'field')).toEqual({
      clusterDNS: 0,
      clusterDomain: 0,
    });
    const ages = await prometheus.query('dns_tuner_cluster_facts_last_event_age_seconds');
    expect(ages.map((s) => s.labels.resource).sort()).toEqual([
      'configmaps',
      'daemonsets',
      'networkpolicies',
      'services',
    ]);
    for (const age of ages) expect(age.value).toBeLessThan(60);
    expect(await prometheus.value('sum(dns_tuner_cluster_facts_forbidden)')).toBe(0);
    expect((await prometheus.query('dns_tuner_cluster_facts_watch_restarts_total')).length).toBe(4 * 5);

    const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const build = await prometheus.query('dns_tuner_build_info');
    expect(build.map((s) => [s.labels.version, s.value])).toEqual([[version, 1]]);
  });

  it('loads every alert, evaluates each without error, and the state set up here makes the expected ones pending', async () => {
    const pending = [
      'DnsTunerCertificateExpiringSoon', // one day left: both the warning and the critical rule
      'DnsTunerConfigReloadFailing',
      'DnsTunerNamespaceUnavailable',
      'DnsTunerUnknownPolicy',
    ];
    const shipped = alertRules().map((r) => `${r.alert}/${r.labels.severity}`);
    const states = await seen(async () => {
      const rules = await prometheus.rules();
      expect(rules.map((r) => `${r.name}/${r.labels?.severity}`).sort()).toEqual([...shipped].sort());
      for (const rule of rules) {
        expect(rule, rule.name).toMatchObject({ type: 'alerting', health: 'ok' });
        expect(rule.lastError ?? '', rule.name).toBe('');
      }
      const active = rules.filter((r) => r.state !== 'inactive');
      expect([...new Set(active.map((r) => r.name))].sort()).toEqual(pending);
      return rules;
    });
    // Nothing here lasts long enough to fire.
    expect(states.filter((r) => r.state === 'firing')).toEqual([]);
  });

  it("evaluates the README's PromQL for when to run dns-tuner audit, over documented metrics only", async () => {
    const documented = new Set(documentedMetrics().map((m) => m.name));
    const queries = auditRecipeQueries();
    expect(queries).toHaveLength(4);
    const problems: string[] = [];
    for (const expr of queries) {
      for (const metric of dnsTunerMetrics(expr)) if (!documented.has(metric)) problems.push(`${expr}: ${metric}`);
      try {
        await prometheus.query(expr);
      } catch (error) {
        problems.push(`${expr}: ${(error as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('evaluates every dashboard query; those over documented metrics return data', async () => {
    const documented = new Set(documentedMetrics().map((m) => m.name));
    const problems: string[] = [];
    for (const q of dashboardQueries()) {
      const expr = grafanaExpand(q.expr);
      let samples: Sample[];
      try {
        samples = await prometheus.query(expr);
      } catch (error) {
        problems.push(`${q.panel} ${q.refId}: ${(error as Error).message}`);
        continue;
      }
      const usesOnlyDocumented = /\bdns_tuner_/.test(expr) && dnsTunerMetrics(expr).every((m) => documented.has(m));
      const external = /\b(apiserver|coredns)_/.test(expr);
      if (usesOnlyDocumented && !external && samples.length === 0) problems.push(`${q.panel} ${q.refId}: no data`);
    }
    expect(problems).toEqual([]);
  });
});
