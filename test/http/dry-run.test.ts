/**
 * POST /dry-run and GET /dry-run/namespaces/{name} over real HTTPS, on the same webhook app as /mutate, with the
 * example config and namespaces. The central claim: the patch the dry run shows is byte for byte the one /mutate
 * returns for the same pod in the same namespace — checked by sending the same pod to both.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type HttpsResult, httpsPost } from '../../lab/client.ts';
import {
  asListed,
  coreDnsConfigMap,
  denyAllEgress,
  dnsToKubeDnsOnly,
  kubeDnsService,
  nodeLocalDaemonSet,
} from '../../lab/cluster-dns.ts';
import { SERVICE_NAME } from '../../lab/paths.ts';
import { exampleReview, type Json, responseOf } from '../../lab/review.ts';
import type { Config } from '../../src/core/types.ts';
import type { NamespaceReport } from '../../src/dryrun/namespace-report.ts';
import type { CostRowReport, DryRunReport } from '../../src/dryrun/report.ts';
import { type HttpsWebhook, startHttpsWebhook } from '../support/webhook.ts';
import { controllerPod, reviewOf, type TemplateSpec, WORKLOAD_KINDS, workload } from '../support/workloads.ts';

let web: HttpsWebhook;
/** What getConfig returns: the example config, or a variant a test installs (and beforeEach restores). */
let config: Config;

beforeAll(async () => {
  web = await startHttpsWebhook({ caName: 'dry-run-test CA', hosts: [SERVICE_NAME], getConfig: () => config });
});

afterAll(async () => {
  await web?.close();
});

beforeEach(() => {
  config = web.deps.config;
});

const tls = () => ({ ca: web.ca.cert, servername: SERVICE_NAME });

interface Send {
  query?: string;
  contentType?: string;
  accept?: string;
}

function dryRun(body: unknown, opts: Send = {}): Promise<HttpsResult> {
  const contentType = opts.contentType ?? 'application/json';
  const text = typeof body === 'string' ? body : contentType.includes('yaml') ? stringify(body) : JSON.stringify(body);
  const headers: Record<string, string> = contentType === '' ? {} : { 'content-type': contentType };
  if (opts.accept) headers.accept = opts.accept;
  return httpsPost(web.port, `/dry-run${opts.query ?? ''}`, text, tls(), headers);
}

async function report(body: unknown, opts: Send = {}): Promise<DryRunReport> {
  const res = await dryRun(body, opts);
  expect(res.status, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(res.body) as DryRunReport;
}

function get(path: string, accept?: string): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: web.port,
        path,
        method: 'GET',
        ...tls(),
        agent: false,
        headers: accept ? { accept } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('GET timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function mutate(review: Json) {
  const res = await httpsPost(web.port, '/mutate', JSON.stringify(review), tls());
  expect(res.status).toBe(200);
  return responseOf(res.body);
}

function row(r: DryRunReport, name: string): CostRowReport {
  const found = r.queryCost?.rows.find((x) => x.name === name);
  if (!found) throw new Error(`no cost row for ${name}`);
  return found;
}

const glibc = (r: CostRowReport) => [r.glibc.before.queries, r.glibc.after.queries];
const musl = (r: CostRowReport) => [r.musl.before.queries, r.musl.after.queries];

describe('POST /dry-run: a Deployment in an opted-in namespace', () => {
  it('shows the node-local switch, resolv.conf before and after, and the query cost per name', async () => {
    const deploy = workload('Deployment', 'checkout', 'shop', { labels: { app: 'checkout' } });
    const r = await report(deploy, { contentType: 'application/yaml' });

    expect(r).toMatchObject({
      kind: 'DryRunReport',
      input: { form: 'workload', kind: 'Deployment', name: 'checkout', namespace: 'shop', pod: 'checkout-*' },
      namespace: { name: 'shop', origin: 'namespace-source', status: 'found' },
      decision: 'mutated',
      reason: 'policy-applied',
      policy: 'default',
      mode: 'enforce',
    });
    expect(r.input.defaulted).toEqual(['spec.dnsPolicy=ClusterFirst']);
    expect(r.settings?.nodeLocal).toEqual({ value: true, source: 'policy', from: 'default' });
    expect(r.settings?.ndots).toEqual({ value: 3, source: 'policy', from: 'default' });
    expect(r.settings?.mode).toEqual({ value: 'enforce', source: 'policy', from: 'config mode' });
    expect(r.dns).toMatchObject({
      before: { dnsPolicy: 'ClusterFirst' },
      after: { dnsPolicy: 'None' },
      afterIs: 'applied',
    });

    const { before, after, node } = r.resolvConf!;
    expect(node).toEqual({ clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostSearchDomains: [] });
    expect(before.text).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
    expect(after.text).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local\n' +
        'nameserver 169.254.20.10\nnameserver 10.96.0.10\n' +
        'options ndots:3 single-request-reopen timeout:1 attempts:2\n',
    );
    expect(r.resolvConf?.diff).toContain('+nameserver 169.254.20.10\n nameserver 10.96.0.10\n-options ndots:5\n');

    // The example keeps ndots:3 (so `svc.ns.svc` still resolves on musl): a name with 3+ dots is asked as is first
    // and drops from 8 queries (3 search domains + as is, A and AAAA) to 2. A 2-dot name is still searched: 8 → 8.
    const s3 = row(r, 's3.eu-west-1.amazonaws.com');
    expect(glibc(s3)).toEqual([8, 2]);
    expect(s3.glibc.after.perNameserver).toEqual({ '169.254.20.10': 2, '10.96.0.10': 0 });
    expect(s3.glibc.after.asked).toEqual(['s3.eu-west-1.amazonaws.com']);
    expect(glibc(row(r, 'api.example.com'))).toEqual([8, 8]);
    // musl asks both nameservers for everything: the fallback sees every query.
    expect(musl(s3)).toEqual([8, 4]);
    expect(s3.musl.after.perNameserver).toEqual({ '169.254.20.10': 2, '10.96.0.10': 2 });
    for (const name of ['my-svc', 'my-svc.shop', 'my-svc.shop.svc', 'my-svc.shop.svc.cluster.local']) {
      expect(row(r, name).glibc.after.resolves, name).toBe(true);
      expect(row(r, name).musl.after.resolves, name).toBe(true);
    }

    const warnings = r.warnings.map((w) => w.message);
    expect(warnings).toContain(
      'musl/Alpine ignores option(s) single-request-reopen: only ndots, timeout and attempts apply there',
    );
    expect(warnings.some((w) => w.startsWith('musl/Alpine sends every query to all 2 nameservers'))).toBe(true);
  });

  it('drops an external 2-dot name from 10 queries to 2 for glibc with ndots:2 and a node search domain', async () => {
    // The "10 → 2" of resolvers.md: 4 search domains (ec2.internal from the node) and ndots ≤ 2.
    config = { ...web.deps.config, hostSearchDomains: ['ec2.internal'] };
    const r = await report({
      namespace: { labels: { 'dns-tuner.io/policy': 'default' }, annotations: { 'dns-tuner.io/ndots': '2' } },
      object: workload('Deployment', 'checkout', 'shop'),
    });
    expect(r.settings?.ndots).toEqual({ value: 2, source: 'namespace-annotation', from: 'dns-tuner.io/ndots' });
    const api = row(r, 'api.example.com');
    expect(glibc(api)).toEqual([10, 2]);
    expect(api.glibc.before.asked).toEqual([
      'api.example.com.shop.svc.cluster.local',
      'api.example.com.svc.cluster.local',
      'api.example.com.cluster.local',
      'api.example.com.ec2.internal',
      'api.example.com',
    ]);
    // …and the price: with ndots:2, musl never searches `my-svc.shop.svc`, so it stops resolving on Alpine.
    const svc = row(r, 'my-svc.shop.svc');
    expect(svc.musl.before.resolves).toBe(true);
    expect(svc.musl.after.resolves).toBe(false);
    expect(r.warnings).toContainEqual({
      source: 'resolver',
      message: '"my-svc.shop.svc" resolves now but will not on musl (ndots:2)',
    });
    // Said once: the "does not resolve on musl" sentence for the same name is left out.
    expect(r.warnings.filter((w) => w.message.startsWith('"my-svc.shop.svc"'))).toHaveLength(1);
  });
});

describe('POST /dry-run: the patch is byte for byte what /mutate returns', () => {
  const variants: Array<{ what: string; namespace: string; t: TemplateSpec }> = [
    { what: 'plain', namespace: 'shop', t: { labels: { app: 'web' } } },
    {
      what: 'author options and pod annotations',
      namespace: 'shop',
      t: {
        annotations: { 'dns-tuner.io/ndots': '4', 'dns-tuner.io/options': 'rotate' },
        spec: { dnsConfig: { options: [{ name: 'timeout', value: '2' }, { name: 'edns0' }] } },
      },
    },
    { what: 'options-only policy', namespace: 'payments', t: { labels: { tier: 'backend' } } },
    {
      what: 'ClusterFirstWithHostNet',
      namespace: 'shop',
      t: { spec: { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } },
    },
  ];

  for (const kind of WORKLOAD_KINDS) {
    for (const v of variants) {
      it(`${kind}, ${v.what}, in ${v.namespace}`, async () => {
        const r = await report(workload(kind, 'web', v.namespace, v.t));
        const pod = controllerPod('web', v.namespace, v.t);
        expect(r.pod).toEqual(pod);
        const response = await mutate(reviewOf(pod, v.namespace));
        expect(response.patch).toBeDefined();
        expect(r.patch.sentByMutate).toBe(true);
        expect(r.patch.base64).toBe(response.patch);
        expect(Buffer.from(JSON.stringify(r.patch.operations)).toString('base64')).toBe(response.patch);
        // Everything else /mutate answers, too (the uid is the dry run's own).
        expect({ ...r.mutateResponse, uid: 'x' }).toEqual({ ...response, uid: 'x' });
      });
    }
  }

  it('a Pod', async () => {
    const pod = controllerPod('solo', 'shop', { labels: { app: 'solo' } });
    (pod.metadata as Json).name = 'solo';
    delete (pod.metadata as Json).generateName;
    const r = await report(pod);
    expect(r.input).toMatchObject({ form: 'pod', kind: 'Pod', name: 'solo', pod: 'solo', defaulted: [] });
    expect(r.patch.base64).toBe((await mutate(reviewOf(pod, 'shop'))).patch);
  });

  it('an AdmissionReview, answered exactly as /mutate answers it', async () => {
    const review = exampleReview();
    const r = await report(review);
    expect(r.input.form).toBe('admission-review');
    expect(r.mutateResponse).toEqual(await mutate(review));
    expect(r.patch.base64).toBe(r.mutateResponse.patch);
  });

  it('a dry-run-mode namespace: /mutate sends no patch, the report shows the would-be patch, labelled', async () => {
    const deploy = workload('Deployment', 'web', 'staging');
    const r = await report(deploy);
    const response = await mutate(reviewOf(controllerPod('web', 'staging'), 'staging'));
    expect(response.patch).toBeUndefined();
    expect(r.mutateResponse.patch).toBeUndefined();
    expect(r).toMatchObject({ decision: 'dry-run', reason: 'mode-dry-run', mode: 'dry-run' });
    expect(r.settings?.mode).toEqual({ value: 'dry-run', source: 'namespace-annotation', from: 'dns-tuner.io/mode' });
    expect(r.patch.sentByMutate).toBe(false);
    expect(r.patch.note).toMatch(/^WOULD-BE patch/);
    expect(r.dns?.afterIs).toBe('would-be');
    // The would-be patch is what enforce mode sends: the same pod, with the namespace's mode flipped to enforce.
    const enforce = await report({
      namespace: { labels: { 'dns-tuner.io/policy': 'default' } },
      object: deploy,
    });
    expect(enforce.decision).toBe('mutated');
    expect(r.patch.operations.filter((op) => op.path !== '/metadata/annotations')).toEqual(
      enforce.patch.operations.filter((op) => op.path !== '/metadata/annotations'),
    );
    const patched = jsonpatch.applyPatch(structuredClone(r.pod), r.patch.operations as jsonpatch.Operation[]);
    expect((patched.newDocument as { spec: Json }).spec.dnsPolicy).toBe('None');
  });

  it('a skipped pod: no patch from either', async () => {
    const r = await report(workload('Deployment', 'web', 'legacy'));
    expect(r).toMatchObject({ decision: 'skipped', reason: 'namespace-not-opted-in', settings: null });
    expect(r.patch).toMatchObject({ sentByMutate: false, base64: null, operations: [] });
    expect((await mutate(reviewOf(controllerPod('web', 'legacy'), 'legacy'))).patch).toBeUndefined();
    expect(r.dns?.afterIs).toBe('unchanged');
    expect(r.resolvConf?.diff).not.toMatch(/^[-+][^-+]/m);
  });

  it('an AdmissionReview for something other than a Pod CREATE is skipped, as /mutate skips it', async () => {
    const review = reviewOf(controllerPod('web', 'shop'), 'shop') as { request: Json };
    review.request.operation = 'UPDATE';
    const r = await report(review);
    expect(r).toMatchObject({ decision: 'skipped', reason: 'not-create', dns: null, queryCost: null });
    expect(r.mutateResponse).toEqual(await mutate(review));
  });
});

describe('POST /dry-run: inputs and options', () => {
  it('reads YAML (application/yaml, text/yaml) and JSON alike', async () => {
    const deploy = workload('StatefulSet', 'db', 'shop');
    const fromJson = await report(deploy);
    for (const contentType of ['application/yaml', 'text/yaml', 'application/x-yaml']) {
      const fromYaml = await report(deploy, { contentType });
      expect(fromYaml.patch.base64).toBe(fromJson.patch.base64);
    }
  });

  it('takes the namespace from ?namespace= when the object names none', async () => {
    const r = await report(workload('Deployment', 'web', undefined), { query: '?namespace=shop' });
    expect(r.input.namespace).toBe('shop');
    expect(r.decision).toBe('mutated');
  });

  it('adds ?names= to the cost table: no dots = a Service in the namespace, .svc = in-cluster, else external', async () => {
    const r = await report(workload('Deployment', 'web', 'shop'), {
      query: '?names=redis,api.payments.svc,db.internal.example.org',
    });
    const names = r.queryCost?.rows.map((x) => x.name);
    expect(names?.slice(-3)).toEqual(['redis', 'api.payments.svc', 'db.internal.example.org']);
    expect(row(r, 'redis')).toMatchObject({ inCluster: true, target: 'redis.shop.svc.cluster.local' });
    expect(glibc(row(r, 'redis'))).toEqual([2, 2]);
    expect(row(r, 'api.payments.svc')).toMatchObject({ inCluster: true, target: 'api.payments.svc.cluster.local' });
    expect(glibc(row(r, 'db.internal.example.org'))).toEqual([8, 2]);
  });

  it('answers "what if I label it" for a namespace that has not opted in', async () => {
    const deploy = workload('Deployment', 'web', 'legacy');
    expect((await report(deploy)).decision).toBe('skipped');
    const r = await report(
      {
        namespace: {
          labels: { 'dns-tuner.io/policy': 'options-only', 'team.example.com/owner': 'x' },
          annotations: { 'dns-tuner.io/options': 'timeout:1' },
        },
        object: deploy,
      },
      { contentType: 'application/yaml' },
    );
    expect(r).toMatchObject({ decision: 'mutated', policy: 'options-only' });
    // Only dns-tuner.io/* keys count, as with the real namespace sources.
    expect(r.namespace).toEqual({
      name: 'legacy',
      origin: 'what-if',
      status: 'found',
      labels: { 'dns-tuner.io/policy': 'options-only' },
      annotations: { 'dns-tuner.io/options': 'timeout:1' },
    });
    expect(r.settings?.options).toContainEqual({
      value: { name: 'timeout', value: '1' },
      source: 'namespace-annotation',
      from: 'dns-tuner.io/options',
    });
    expect(r.dns?.after.dnsPolicy).toBe('ClusterFirst');
  });

  it('answers a readable report for Accept: text/plain (and ?output=text)', async () => {
    const deploy = workload('Deployment', 'checkout', 'shop');
    for (const opts of [{ accept: 'text/plain' }, { query: '?output=text' }]) {
      const res = await dryRun(deploy, opts);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toContain('Decision: MUTATED (policy-applied)');
      expect(res.body).toMatch(/ndots +3 +policy default/);
      expect(res.body).toContain('  +nameserver 169.254.20.10\n   nameserver 10.96.0.10\n  -options ndots:5\n');
      expect(res.body).toMatch(/s3\.eu-west-1\.amazonaws\.com +3 +8 → 2 +8 → 4/);
      expect(res.body).toContain('[resolver] musl/Alpine ignores option(s) single-request-reopen');
    }
    // JSON when the client prefers it.
    const json = await dryRun(deploy, { accept: 'application/json, text/plain;q=0.5' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
  });

  it('logs one line per dry-run request and does not count it as a review', async () => {
    const reviews = async () => (await web.deps.registry.getSingleMetricAsString('dns_tuner_reviews_total')).trim();
    /** The pod route's dry-run counter for one result (0 before the first such request). */
    const dryRuns = async (result: string) => {
      const metric = web.deps.registry.getSingleMetric('dns_tuner_dry_run_requests_total');
      const values = (await metric?.get())?.values ?? [];
      return values.find((v) => v.labels.route === 'pod' && v.labels.result === result)?.value ?? 0;
    };
    const before = await reviews();
    const [mutateBefore, badInputBefore] = [await dryRuns('mutated'), await dryRuns('bad-input')];
    const lines = web.logs.lines.length;
    await report(workload('DaemonSet', 'agent', 'shop'));
    await dryRun('kind: Service\n', { contentType: 'application/yaml' });
    expect(await reviews()).toBe(before);
    const added = web.logs.lines.slice(lines);
    expect(added.map((l) => l.msg)).toEqual(['dry-run', 'dry-run refused']);
    expect(added[0]).toMatchObject({ dryRun: 'pod', kind: 'DaemonSet', namespace: 'shop', decision: 'mutated' });
    expect(added[1]).toMatchObject({ dryRun: 'pod', code: 'DNS_TUNER_UNSUPPORTED_KIND' });
    expect(await dryRuns('mutated')).toBe(mutateBefore + 1);
    expect(await dryRuns('bad-input')).toBe(badInputBefore + 1);
  });
});

describe('GET /dry-run/namespaces/{name}', () => {
  async function ns(name: string): Promise<NamespaceReport> {
    const res = await get(`/dry-run/namespaces/${name}`);
    expect(res.status, res.body).toBe(200);
    return JSON.parse(res.body) as NamespaceReport;
  }

  it('shows an opted-in namespace’s effective policy and where each value comes from', async () => {
    const r = await ns('shop');
    expect(r).toMatchObject({
      optedIn: true,
      policy: 'default',
      policyKnown: true,
      mode: 'enforce',
      decision: 'mutated',
    });
    expect(r.settings?.ndots).toEqual({ value: 3, source: 'policy', from: 'default' });
    expect(r.podDns?.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
  });

  it('shows a namespace annotation as the source of the mode', async () => {
    const r = await ns('staging');
    expect(r).toMatchObject({ optedIn: true, mode: 'dry-run', decision: 'dry-run' });
    expect(r.settings?.mode).toEqual({ value: 'dry-run', source: 'namespace-annotation', from: 'dns-tuner.io/mode' });
  });

  it('says so for a namespace that has not opted in', async () => {
    const r = await ns('legacy');
    expect(r).toMatchObject({ optedIn: false, decision: 'skipped', reason: 'namespace-not-opted-in', settings: null });
  });

  it('answers text/plain too', async () => {
    const res = await get('/dry-run/namespaces/payments', 'text/plain');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('Opted in: yes');
    expect(res.body).toMatch(/option +timeout:2 +policy options-only/);
  });

  it('answers 400 for a name no namespace can have, without asking the source', async () => {
    const res = await get('/dry-run/namespaces/Not_A_Name');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'DNS_TUNER_BAD_NAMESPACE', message: /"Not_A_Name"/ });
  });

  it('answers 404 with a coded error for a namespace the source does not know, logged once', async () => {
    const lines = web.logs.lines.length;
    const res = await get('/dry-run/namespaces/nowhere');
    expect(web.logs.lines.slice(lines)).toEqual([
      expect.objectContaining({ msg: 'dry-run', namespace: 'nowhere', code: 'DNS_TUNER_NAMESPACE_NOT_FOUND' }),
    ]);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({
      code: 'DNS_TUNER_NAMESPACE_NOT_FOUND',
      message: 'namespace "nowhere" is not known to dns-tuner',
      statusCode: 404,
    });
  });
});

describe('POST /dry-run: bad input is a 400 that names the problem, and the server keeps serving', () => {
  const deploy = workload('Deployment', 'web', 'shop');
  const cases: Array<{ what: string; body: unknown; send?: Send; status?: number; code: string; says: RegExp }> = [
    {
      what: 'a YAML syntax error, with its line',
      body: 'kind: Deployment\nmetadata:\n  name: [web\n',
      send: { contentType: 'application/yaml' },
      code: 'DNS_TUNER_BAD_YAML',
      says: /not valid YAML: line \d+, column \d+: /,
    },
    {
      what: 'a YAML alias bomb',
      body: `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 9 },
        (_, i) =>
          `${'bcdefghij'[i]}: &${'bcdefghij'[i]} [${Array(10)
            .fill(i === 0 ? '*a' : `*${'bcdefghij'[i - 1]}`)
            .join(', ')}]`,
      ).join('\n')}\nkind: Pod\n`,
      send: { contentType: 'application/yaml' },
      code: 'DNS_TUNER_BAD_YAML',
      says: /alias/i,
    },
    {
      what: 'JSON nested 10000 levels deep',
      body: `{"kind":"Pod","metadata":{"namespace":"shop"},"spec":{"containers":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
      code: 'DNS_TUNER_NOT_AN_OBJECT',
      says: /nested deeper than 256 levels/,
    },
    {
      what: 'YAML nested 10000 levels deep',
      body: `kind: Pod\nspec: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`,
      send: { contentType: 'application/yaml' },
      code: 'DNS_TUNER_BAD_YAML',
      says: /nested too deeply|nested deeper/,
    },
    {
      what: 'a JSON syntax error',
      body: '{"kind": "Pod",',
      code: 'DNS_TUNER_BAD_JSON',
      says: /not valid JSON/,
    },
    {
      what: 'a scalar',
      body: 'hello\n',
      send: { contentType: 'text/yaml' },
      code: 'DNS_TUNER_NOT_AN_OBJECT',
      says: /not a Kubernetes object: expected a YAML\/JSON object with a kind, got "hello"/,
    },
    { what: 'a JSON array', body: [1, 2], code: 'DNS_TUNER_NOT_AN_OBJECT', says: /got a list/ },
    { what: 'an object without kind', body: { metadata: {} }, code: 'DNS_TUNER_NOT_AN_OBJECT', says: /no kind/ },
    {
      what: 'an empty body',
      body: '',
      send: { contentType: 'application/yaml' },
      code: 'DNS_TUNER_NOT_AN_OBJECT',
      says: /empty/,
    },
    { what: 'no body at all', body: '', send: { contentType: '' }, code: 'DNS_TUNER_NOT_AN_OBJECT', says: /empty/ },
    {
      what: 'two YAML documents',
      body: `${stringify(deploy)}---\n${stringify(deploy)}`,
      send: { contentType: 'application/yaml' },
      code: 'DNS_TUNER_NOT_AN_OBJECT',
      says: /2 YAML documents .* send one object per request/,
    },
    {
      what: 'an unsupported kind',
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } },
      code: 'DNS_TUNER_UNSUPPORTED_KIND',
      says: /kind "Service" is not supported; send a Pod, a workload with a pod template \(Deployment, /,
    },
    {
      what: 'a List',
      body: { apiVersion: 'v1', kind: 'List', items: [deploy] },
      code: 'DNS_TUNER_UNSUPPORTED_KIND',
      says: /kind List \(1 item\): send the items one per request/,
    },
    {
      what: 'a Deployment without a pod template',
      body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: {} },
      code: 'DNS_TUNER_NO_POD_TEMPLATE',
      says: /Deployment "web" has no pod template: spec.template is missing/,
    },
    {
      what: 'a CronJob without a job template',
      body: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'shop' }, spec: {} },
      code: 'DNS_TUNER_NO_POD_TEMPLATE',
      says: /CronJob "nightly" has no pod template: spec.jobTemplate.spec.template is missing/,
    },
    {
      what: 'a template without a spec',
      body: { kind: 'Job', metadata: { name: 'once', namespace: 'shop' }, spec: { template: { metadata: {} } } },
      code: 'DNS_TUNER_NO_POD_TEMPLATE',
      says: /spec.template.spec is missing/,
    },
    {
      what: 'a template whose DNS fields have the wrong type',
      body: workload('Deployment', 'web', 'shop', { spec: { dnsConfig: { options: 'ndots:2' } } }),
      code: 'DNS_TUNER_BAD_POD',
      says: /the pod cannot be read: Deployment spec.template.spec.dnsConfig.options: /,
    },
    {
      what: 'no namespace anywhere',
      body: workload('Deployment', 'web', undefined),
      code: 'DNS_TUNER_NO_NAMESPACE',
      says: /set metadata.namespace in the object, or pass \?namespace=NAME/,
    },
    {
      what: 'a namespace that contradicts the object',
      body: deploy,
      send: { query: '?namespace=payments' },
      code: 'DNS_TUNER_NAMESPACE_MISMATCH',
      says: /namespace "payments" does not match the object, which says "shop"/,
    },
    {
      what: 'a namespace name no namespace can have',
      body: workload('Deployment', 'web', undefined),
      send: { query: '?namespace=..%2Fkube-system' },
      code: 'DNS_TUNER_BAD_NAMESPACE',
      says: /namespace "..\/kube-system" is not a namespace name/,
    },
    {
      what: 'a bad ?names= entry',
      body: deploy,
      send: { query: '?names=ok.example.com,not%20a%20name' },
      code: 'DNS_TUNER_BAD_QUERY',
      says: /bad query parameter names: "not a name" is not a DNS name/,
    },
    {
      what: 'a bad ?output=',
      body: deploy,
      send: { query: '?output=xml' },
      code: 'DNS_TUNER_BAD_QUERY',
      says: /output: "xml"; use text or json/,
    },
    {
      what: 'a what-if with labels that are not a map of strings',
      body: { namespace: { labels: { 'dns-tuner.io/policy': 3 } }, object: deploy },
      code: 'DNS_TUNER_BAD_WHAT_IF',
      says: /namespace.labels.dns-tuner.io\/policy: must be a string, got 3/,
    },
    {
      what: 'a what-if without the object',
      body: { namespace: { labels: {} } },
      code: 'DNS_TUNER_BAD_WHAT_IF',
      says: /object: is required/,
    },
    {
      what: 'a broken AdmissionReview',
      body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} },
      code: 'DNS_TUNER_BAD_REVIEW',
      says: /request.uid: is required/,
    },
    {
      what: 'a form-encoded body (curl --data without a content type)',
      body: 'kind=Pod',
      send: { contentType: 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'DNS_TUNER_DRY_RUN_MEDIA_TYPE',
      says: /send application\/json or application\/yaml/,
    },
  ];

  for (const c of cases) {
    it(c.what, async () => {
      const res = await dryRun(c.body, c.send);
      expect(res.status, res.body).toBe(c.status ?? 400);
      const body = JSON.parse(res.body) as { code: string; message: string; statusCode: number };
      expect(body.code).toBe(c.code);
      expect(body.message).toMatch(c.says);
      expect(body.statusCode).toBe(c.status ?? 400);
      // Still serving, both routes.
      expect((await dryRun(deploy)).status).toBe(200);
      expect((await mutate(exampleReview())).patchType).toBe('JSONPatch');
    });
  }
});

describe('/dry-run in a cluster: the Cluster section, and the same answer as /mutate', () => {
  let cluster: HttpsWebhook;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dns-tuner-dry-run-cluster-'));
    const file = join(dir, 'cluster.yaml');
    const items = [
      asListed('Namespace', 'v1', { metadata: { name: 'locked', labels: { 'dns-tuner.io/policy': 'default' } } }),
      asListed('NetworkPolicy', 'networking.k8s.io/v1', denyAllEgress('locked')),
      asListed('NetworkPolicy', 'networking.k8s.io/v1', dnsToKubeDnsOnly('locked')),
      asListed('Service', 'v1', kubeDnsService()),
      asListed('ConfigMap', 'v1', coreDnsConfigMap()),
      asListed('DaemonSet', 'apps/v1', nodeLocalDaemonSet()),
    ];
    await writeFile(file, stringify({ apiVersion: 'v1', kind: 'List', items }));
    cluster = await startHttpsWebhook({ caName: 'dry-run-cluster CA', hosts: [SERVICE_NAME], objectsFile: file });
  });

  afterAll(async () => {
    await cluster?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const clusterTls = () => ({ ca: cluster.ca.cert, servername: SERVICE_NAME });

  it('explains why the pod stays off the cache, prints the fix, and /mutate sends the very same patch', async () => {
    const pod = controllerPod('web', 'locked');
    const res = await httpsPost(cluster.port, '/dry-run', JSON.stringify(pod), clusterTls());
    expect(res.status, res.body).toBe(200);
    const r = JSON.parse(res.body) as DryRunReport;
    expect(r).toMatchObject({ decision: 'mutated', reason: 'node-local-blocked-by-networkpolicy' });
    expect(r.cluster).toMatchObject({
      kubeDns: { value: '10.96.0.10', from: 'config, verified: an IP of Service kube-system/kube-dns' },
      nodeLocal: { mode: 'link-local', available: true, pod: { pointed: false } },
      networkPolicies: {
        status: 'isolated',
        selectedCount: 2,
        cache: { ip: '169.254.20.10', verdict: 'blocked' },
        kubeDns: {
          ip: '10.96.0.10',
          udp: { allowed: false, podSelectorRules: ['locked/allow-dns-to-kube-dns egress[0]'] },
        },
      },
    });
    expect(r.cluster?.networkPolicies.fix).toContain('cidr: 169.254.20.10/32');
    const review = reviewOf(pod, 'locked');
    const mutated = await httpsPost(cluster.port, '/mutate', JSON.stringify(review), clusterTls());
    expect(responseOf(mutated.body).patch).toBe(r.patch.base64);

    const text = await httpsPost(cluster.port, '/dry-run', JSON.stringify(pod), clusterTls(), {
      'content-type': 'application/json',
      accept: 'text/plain',
    });
    expect(text.body).toContain('The NetworkPolicy that lets these pods reach the cache (kubectl apply -f -):');
  });

  it('GET /dry-run/namespaces/{name} gives the cluster reason for a plain pod of the namespace', async () => {
    const res = await new Promise<HttpsResult>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port: cluster.port, path: '/dry-run/namespaces/locked', ...clusterTls(), agent: false },
          (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () =>
              resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks).toString() }),
            );
          },
        )
        .on('error', reject);
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body) as NamespaceReport).toMatchObject({
      decision: 'mutated',
      reason: 'node-local-blocked-by-networkpolicy',
      podDns: { dnsPolicy: 'ClusterFirst' },
    });
  });
});
