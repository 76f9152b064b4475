/**
 * `dns-tuner audit` against the fake Kubernetes API's wire protocol (lab/fake-kube-api.ts: paging, selectors,
 * metadata-only lists, 403s), on the cluster of ./scenario.ts. Most runs call runAudit in this process (a child each
 * would cost a second and test nothing more); the built dist/ binary runs once as a real process and must print the
 * same report.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { EXAMPLE_CONFIG, ROOT } from '../../lab/paths.ts';
import { isolatedEnv, requireBuilt, spawnNode } from '../../lab/process.ts';
import type { AuditReport, AuditWorkload } from '../../src/audit/report.ts';
import { runAudit } from '../../src/cli/audit.ts';
import { EXIT_BAD_INPUT, EXIT_CHANGES, EXIT_FAILED, EXIT_OK } from '../../src/errors.ts';
import { buildScenario } from './scenario.ts';

let api: FakeKubeApi;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function audit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out = { stdout: '', stderr: '' };
  const sink = (name: keyof typeof out) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const code = await runAudit(
    ['--kubeconfig', api.kubeconfigPath, '--config', EXAMPLE_CONFIG, ...args],
    { stdout: sink('stdout'), stderr: sink('stderr') },
    env,
  );
  return { code, ...out };
}

async function report(args: string[]): Promise<{ run: Run; report: AuditReport }> {
  const run = await audit([...args, '-o', 'json']);
  return { run, report: JSON.parse(run.stdout) as AuditReport };
}

function workload(r: AuditReport, name: string, namespace = 'shop'): AuditWorkload {
  const found = r.workloads?.find((w) => w.workload === name && w.namespace === namespace);
  if (found === undefined)
    throw new Error(`no workload ${namespace}/${name} in ${r.workloads?.map((w) => w.workload)}`);
  return found;
}

beforeAll(async () => {
  api = await startFakeKubeApi();
  buildScenario(api);
});

afterAll(async () => {
  await api?.close();
});

afterEach(() => {
  api.allowAll();
});

const NODE_LOCAL_AFTER = {
  dnsPolicy: 'None',
  nameservers: ['169.254.20.10', '10.96.0.10'],
  searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
  options: ['ndots:3', 'single-request-reopen', 'timeout:1', 'attempts:2'],
  ndots: 3,
};
const KUBELET_DEFAULT = { dnsPolicy: 'ClusterFirst', nameservers: [], searches: [], options: [], ndots: 5 };

describe('dns-tuner audit -A', () => {
  it('names each workload with its state, pods, DNS now and after, query cost and the command that rolls it', async () => {
    const { run, report: r } = await report(['-A']);
    expect(run.code).toBe(EXIT_CHANGES);
    expect(run.stderr).toBe('');
    expect(r.apiVersion).toBe('dns-tuner.io/v1alpha1');
    expect(r.kind).toBe('AuditReport');
    expect(r.scope).toEqual({ allNamespaces: true, namespaces: [], selector: null });
    expect(r.config).toBe(EXAMPLE_CONFIG);
    expect(r.lookupName).toBe('api.example.com');
    expect(r.complete).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.problemsOmitted).toBe(0);

    // Every workload: its state, affected/total and command (finished Job pods are not counted).
    const rows = r.workloads!.map((w) => [
      w.namespace,
      w.workload,
      w.state,
      `${w.pods.affected}/${w.pods.total}`,
      w.rollout.command,
    ]);
    expect(rows).toEqual([
      ['shop', 'cronjob/report', 'untuned', '1/1', null],
      ['shop', 'daemonset/exporter', 'untuned', '1/1', 'kubectl rollout restart daemonset/exporter -n shop'],
      ['shop', 'deployment/paused', 'untuned', '1/1', 'kubectl rollout restart deployment/paused -n shop'],
      ['shop', 'deployment/web', 'untuned', '2/3', 'kubectl rollout restart deployment/web -n shop'],
      ['shop', 'job/migrate', 'untuned', '1/1', null],
      ['shop', 'pod/debug', 'untuned', '1/1', 'kubectl delete pod debug -n shop'],
      ['shop', 'replicaset/lonely', 'untuned', '1/1', 'kubectl delete pod -n shop -l app=lonely'],
      ['shop', 'rollout.argoproj.io/canary', 'untuned', '1/1', null],
      ['shop', 'statefulset/cache', 'untuned', '1/1', 'kubectl rollout restart statefulset/cache -n shop'],
      ['legacy', 'deployment/was-tuned', 'stale', '1/1', 'kubectl rollout restart deployment/was-tuned -n legacy'],
      ['shop', 'statefulset/db', 'stale', '2/2', 'kubectl rollout restart statefulset/db -n shop'],
      ['shop', 'deployment/api', 'tuned', '0/2', null],
      ['shop', 'pod/debug-tuned', 'tuned', '0/1', null],
      ['kube-system', 'deployment/coredns', 'skipped', '0/1', null],
      ['legacy', 'deployment/old', 'skipped', '0/1', null],
      ['shop', 'daemonset/agent', 'skipped', '0/2', null],
      ['shop', 'deployment/win', 'skipped', '0/1', null],
      ['shop', 'deployment/worker', 'skipped', '0/1', null],
      ['shop', 'pod/etcd-node-1', 'skipped', '0/1', null],
      ['trial', 'deployment/probe', 'skipped', '0/1', null],
    ]);
    expect(r.summary).toEqual({
      pods: 25,
      workloads: 20,
      states: {
        untuned: { workloads: 9, pods: 10 },
        stale: { workloads: 2, pods: 3 },
        tuned: { workloads: 2, pods: 4 },
        skipped: { workloads: 7, pods: 8 },
      },
      skipReasons: {
        'host-network': 2,
        'mode-dry-run': 1,
        'namespace-excluded': 1,
        'namespace-not-opted-in': 1,
        'pod-opt-out': 1,
        'static-pod': 1,
        windows: 1,
      },
    });
    expect(r.namespaces).toEqual([
      { name: 'kube-system', policy: 'default', pods: 1, untuned: 0, stale: 0, tuned: 0, skipped: 1 },
      { name: 'legacy', policy: null, pods: 2, untuned: 0, stale: 1, tuned: 0, skipped: 1 },
      { name: 'shop', policy: 'default', pods: 21, untuned: 10, stale: 2, tuned: 4, skipped: 5 },
      { name: 'trial', policy: 'default', pods: 1, untuned: 0, stale: 0, tuned: 0, skipped: 1 },
    ]);
  });

  it('reports an untuned Deployment field by field', async () => {
    const { report: r } = await report(['-A']);
    const web = workload(r, 'deployment/web');
    expect(web).toEqual({
      namespace: 'shop',
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      name: 'web',
      workload: 'deployment/web',
      state: 'untuned',
      pods: { total: 3, affected: 2, untuned: 2, stale: 0, tuned: 1, skipped: 0 },
      review: {
        decision: 'mutated',
        reason: 'policy-applied',
        policy: 'default',
        basis: 'template',
        detail:
          'dnsPolicy=None nameservers=169.254.20.10,10.96.0.10 options=ndots:3,single-request-reopen,timeout:1,attempts:2',
      },
      now: KUBELET_DEFAULT,
      podsWithOtherDns: 1,
      afterRollout: NODE_LOCAL_AFTER,
      // A 2-dot name is still searched under ndots 3, but nothing goes through kube-dns any more; musl asks both
      // nameservers at once, so it sends twice the queries and still half through kube-dns.
      queryCost: {
        name: 'api.example.com',
        glibc: {
          now: { queries: 8, viaKubeDns: 8, resolves: true },
          afterRollout: { queries: 8, viaKubeDns: 0, resolves: true },
        },
        musl: {
          now: { queries: 8, viaKubeDns: 8, resolves: true },
          afterRollout: { queries: 16, viaKubeDns: 8, resolves: true },
        },
      },
      rollout: { command: 'kubectl rollout restart deployment/web -n shop', note: null },
      tunedAs: null,
      examples: [expect.stringMatching(/^web-[0-9a-z]{7}-[0-9a-z]{5}$/), expect.stringMatching(/^web-/)],
      notes: [],
    });
  });

  it('says what a stale workload was tuned as, and when the webhook now skips it', async () => {
    const { report: r } = await report(['-A']);
    const db = workload(r, 'statefulset/db');
    expect(db.state).toBe('stale');
    expect(db.tunedAs).toBe('default: dnsPolicy=ClusterFirst options=ndots:5,single-request-reopen');
    expect(db.now).toEqual({ ...KUBELET_DEFAULT, options: ['ndots:5', 'single-request-reopen'] });
    expect(db.afterRollout).toEqual(NODE_LOCAL_AFTER);

    const reverted = workload(r, 'deployment/was-tuned', 'legacy');
    expect(reverted.review).toMatchObject({ decision: 'skipped', reason: 'namespace-not-opted-in', policy: null });
    expect(reverted.now).toEqual({
      ...NODE_LOCAL_AFTER,
      searches: ['legacy.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
    });
    expect(reverted.afterRollout).toEqual(KUBELET_DEFAULT);
    expect(reverted.queryCost?.glibc.afterRollout).toEqual({ queries: 8, viaKubeDns: 8, resolves: true });
  });

  it('gives each kind its rollout advice, and the reasons for skipped ones', async () => {
    const { report: r } = await report(['-A']);
    expect(workload(r, 'cronjob/report').rollout.note).toMatch(/next scheduled run is tuned/);
    expect(workload(r, 'job/migrate').rollout.note).toMatch(/keep their DNS until they finish/);
    expect(workload(r, 'pod/debug').rollout.note).toMatch(/apply its manifest after deleting it/);
    expect(workload(r, 'pod/debug').review.basis).toBe('pod');
    expect(workload(r, 'pod/debug-tuned').review.basis).toBe('pod-reconstructed');
    expect(workload(r, 'replicaset/lonely').rollout.note).toMatch(/no Deployment owns this ReplicaSet/);
    expect(workload(r, 'rollout.argoproj.io/canary').rollout.note).toBe(
      'restart it through its owner Rollout canary (argoproj.io/v1alpha1)',
    );
    expect(workload(r, 'statefulset/cache').rollout.note).toMatch(/updateStrategy OnDelete/);
    expect(workload(r, 'deployment/paused').rollout.note).toBe(
      'the Deployment is paused: it rolls once resumed (kubectl rollout resume deployment/paused -n shop)',
    );
    const coredns = workload(r, 'deployment/coredns', 'kube-system');
    expect(coredns.review).toEqual({
      decision: null,
      reason: 'namespace-excluded',
      policy: null,
      basis: null,
      detail: 'the webhook registration never sends pods of namespace kube-system',
    });
    expect(coredns.afterRollout).toEqual(coredns.now);
    const etcd = workload(r, 'pod/etcd-node-1');
    expect(etcd.review).toMatchObject({ decision: null, reason: 'static-pod', basis: null });
    expect(etcd.review.detail).toBe(
      'kubelet runs this static pod from a manifest file on node node-1; the API object only mirrors it',
    );
    expect(etcd.rollout).toEqual({ command: null, note: null });
    const reasons = Object.fromEntries(
      r.workloads!.filter((w) => w.state === 'skipped').map((w) => [w.workload, w.review.reason]),
    );
    expect(reasons).toEqual({
      'deployment/coredns': 'namespace-excluded',
      'deployment/old': 'namespace-not-opted-in',
      'daemonset/agent': 'host-network',
      'deployment/win': 'windows',
      'deployment/worker': 'pod-opt-out',
      'pod/etcd-node-1': 'static-pod',
      'deployment/probe': 'mode-dry-run',
    });
    // Queries are modelled only for what a rollout changes.
    expect(r.workloads!.filter((w) => w.queryCost !== null).map((w) => w.state)).not.toContain('tuned');
  });

  it('prints a table of what to roll, with the DNS change and the command under each row', async () => {
    const run = await audit(['-A']);
    expect(run.code).toBe(EXIT_CHANGES);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`dns-tuner audit: all namespaces (config: ${EXAMPLE_CONFIG})`);
    expect(lines[1]).toBe(
      '25 running pods in 20 workloads: 9 untuned (10 pods), 2 stale (3 pods), 2 tuned (4 pods), 7 skipped (8 pods)',
    );
    expect(lines[3]).toMatch(/^STATE\s+NAMESPACE\s+WORKLOAD\s+PODS\s+api\.example\.com: GLIBC\s+MUSL$/);
    const web = lines.findIndex((l) =>
      /^untuned\s+shop\s+deployment\/web\s+2\/3\s+8→8 \(kube-dns 8→0\)\s+8→16 \(kube-dns 8→8\)$/.test(l),
    );
    expect(web).toBeGreaterThan(3);
    expect(lines[web + 1]?.trim()).toBe(
      'dns:  ClusterFirst ndots:5  →  None 169.254.20.10,10.96.0.10 ndots:3 single-request-reopen timeout:1 attempts:2',
    );
    expect(lines[web + 2]?.trim()).toBe('(1 pod of 3 with other DNS)');
    expect(lines[web + 3]?.trim()).toBe('roll: kubectl rollout restart deployment/web -n shop');
    expect(run.stdout).toMatch(
      /note: the webhook no longer tunes these pods \(namespace-not-opted-in\): a rollout takes the tuning back/,
    );
    // Tuned and skipped workloads are counted, not listed, unless asked.
    expect(run.stdout).not.toMatch(/deployment\/api/);
    expect(run.stdout).toContain('Not listed: 2 tuned workloads and 7 skipped workloads (--show-all lists them).');
    expect(run.stdout).toContain(
      'Skipped pods by reason: host-network 2, mode-dry-run 1, namespace-excluded 1, namespace-not-opted-in 1, pod-opt-out 1, static-pod 1, windows 1.',
    );
    const all = await audit(['-A', '--show-all']);
    expect(all.stdout).toMatch(/^tuned\s+shop\s+deployment\/api\s+2\s+policy default$/m);
    expect(all.stdout).toMatch(/^skipped\s+shop\s+daemonset\/agent\s+2\s+host-network$/m);
  });

  it('prints the same report as YAML', async () => {
    const json = await audit(['-A', '-o', 'json']);
    const yaml = await audit(['-A', '-o', 'yaml']);
    expect(yaml.code).toBe(EXIT_CHANGES);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
  });

  it('--summary counts pods per namespace only', async () => {
    const { run, report: r } = await report(['-A', '--summary']);
    expect(run.code).toBe(EXIT_CHANGES);
    expect(r.workloads).toBeNull();
    expect(r.namespaces.map((ns) => ns.name)).toEqual(['kube-system', 'legacy', 'shop', 'trial']);
    const text = await audit(['-A', '--summary']);
    expect(text.stdout).toContain(
      [
        'NAMESPACE    POLICY   PODS  UNTUNED  STALE  TUNED  SKIPPED',
        'kube-system  default     1        0      0      0        1',
        'legacy       -           2        0      1      0        1',
        'shop         default    21       10      2      4        5',
        'trial        default     1        0      0      0        1',
      ].join('\n'),
    );
  });

  it('pages through every list with limit/continue and reads ReplicaSets and Jobs as metadata only', async () => {
    const before = api.requests.length;
    const small = await report(['-A', '--page-size', '2']);
    const requests = api.requests.slice(before);
    const big = await report(['-A']);
    expect(small.report).toEqual(big.report);
    const pods = requests.filter((q) => q.resource === 'pods');
    expect(pods.length).toBeGreaterThan(10);
    expect(
      pods.every(
        (q) => q.query.limit === '2' && q.query.fieldSelector === 'status.phase!=Succeeded,status.phase!=Failed',
      ),
    ).toBe(true);
    expect(pods.filter((q) => q.query.continue !== undefined).length).toBe(pods.length - 1);
    for (const resource of ['replicasets', 'jobs', 'namespaces']) {
      const lists = requests.filter((q) => q.resource === resource && q.kind === 'list');
      expect(lists.length, resource).toBeGreaterThan(0);
      expect(
        lists.every((q) => q.accept.startsWith('application/json;as=PartialObjectMetadataList')),
        resource,
      ).toBe(true);
    }
  });

  it('reads and never writes: only GETs (lists and gets, no watch) of the resources the README lists', async () => {
    const before = api.requests.length;
    await audit(['-A']);
    await audit(['-n', 'shop,legacy']);
    const used = new Set(api.requests.slice(before).map((q) => `${q.kind} ${q.resource}`));
    // ReplicaSets and Jobs are listed as metadata; the template of one no Deployment (CronJob) owns is read by name.
    expect([...used].sort()).toEqual(
      [
        'get jobs',
        'get namespaces',
        'get replicasets',
        ...['cronjobs', 'daemonsets', 'deployments', 'jobs', 'namespaces', 'pods', 'replicasets', 'statefulsets'].map(
          (r) => `list ${r}`,
        ),
      ].sort(),
    );
  });
});

describe('dns-tuner audit scope', () => {
  it('-n audits the named namespaces, listing each even without pods', async () => {
    api.create('empty', { labels: { 'dns-tuner.io/policy': 'default' } });
    try {
      const { run, report: r } = await report(['-n', 'legacy', '-n', 'empty,trial']);
      expect(run.code).toBe(EXIT_CHANGES);
      expect(r.scope).toEqual({ allNamespaces: false, namespaces: ['legacy', 'empty', 'trial'], selector: null });
      expect(r.namespaces.map((ns) => [ns.name, ns.pods])).toEqual([
        ['empty', 0],
        ['legacy', 2],
        ['trial', 1],
      ]);
      expect(r.workloads!.map((w) => w.workload)).toEqual([
        'deployment/was-tuned',
        'deployment/old',
        'deployment/probe',
      ]);
    } finally {
      api.delete('empty');
    }
  });

  it('without -n or -A, audits the kubeconfig context namespace (default)', async () => {
    const { report: r } = await report([]);
    expect(r.scope.namespaces).toEqual(['default']);
    expect(r.summary.pods).toBe(0);
  });

  it('-l narrows the pods; exit 0 when every pod in scope has what it would get', async () => {
    const tuned = await report(['-n', 'shop', '-l', 'app=api']);
    expect(tuned.run.code).toBe(EXIT_OK);
    expect(tuned.report.scope.selector).toBe('app=api');
    expect(tuned.report.workloads!.map((w) => [w.workload, w.state])).toEqual([['deployment/api', 'tuned']]);
    const text = await audit(['-n', 'shop', '-l', 'app in (api, worker)']);
    expect(text.code).toBe(EXIT_OK);
    expect(text.stdout).toContain('Nothing to roll.');
    expect(text.stdout).toContain('Not listed: 1 tuned workload and 1 skipped workload (--show-all lists them).');
    const skippedOnly = await audit(['-n', 'legacy', '-l', 'app=old']);
    expect(skippedOnly.stdout).toContain('Not listed: 1 skipped workload (--show-all lists them).');
    const none = await audit(['-n', 'shop', '-l', 'app=nothing-here']);
    expect(none.code).toBe(EXIT_OK);
    expect(none.stdout).toContain('No running pods in scope.');
  });
});

describe('dns-tuner audit progress', () => {
  it('shows a progress line on stderr only on a terminal, and clears it before the report', async () => {
    let stderr = '';
    let stdout = '';
    const terminal = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          stderr += chunk.toString();
          done();
        },
      }),
      { isTTY: true },
    );
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stdout += chunk.toString();
        done();
      },
    });
    const code = await runAudit(
      ['--kubeconfig', api.kubeconfigPath, '--config', EXAMPLE_CONFIG, '-A'],
      { stdout: out, stderr: terminal },
      {},
    );
    expect(code).toBe(EXIT_CHANGES);
    const clear = '\r\u001b[2K';
    expect(stderr.startsWith(`${clear}dns-tuner audit: reading namespaces… 0`)).toBe(true);
    expect(stderr.endsWith(clear)).toBe(true);
    expect(stdout).toBe((await audit(['-A'])).stdout);
  });
});

describe('dns-tuner audit failures', () => {
  it('a namespace the user may not read is reported; the others are still audited; exit 1', async () => {
    api.deny({ resource: 'pods', namespace: 'legacy' });
    const { run, report: r } = await report(['-A']);
    expect(run.code).toBe(EXIT_FAILED);
    expect(run.stderr).toBe('dns-tuner audit: incomplete, 1 part could not be read (see the report)\n');
    expect(r.complete).toBe(false);
    expect(r.problems).toEqual([
      {
        resource: 'pods',
        namespace: 'legacy',
        status: 403,
        message: expect.stringMatching(/^HTTP 403: pods is forbidden: User ".*" cannot list resource "pods"/),
      },
    ]);
    // The cluster-wide list was refused; every other namespace was listed on its own and audited.
    expect(r.namespaces.map((ns) => [ns.name, ns.pods])).toEqual([
      ['kube-system', 1],
      ['shop', 21],
      ['trial', 1],
    ]);
    const text = await audit(['-A']);
    expect(text.stdout).toMatch(
      /Not audited — the counts above leave these out:\n {2}pods in namespace legacy: HTTP 403: /,
    );
  });

  it('an owner kind the user may not list: pods compared with themselves, reported', async () => {
    api.deny({ resource: 'statefulsets' });
    const { run, report: r } = await report(['-n', 'shop']);
    expect(run.code).toBe(EXIT_FAILED);
    expect(r.problems.map((p) => [p.resource, p.namespace, p.status])).toEqual([['statefulsets', 'shop', 403]]);
    const db = workload(r, 'statefulset/db');
    expect(db.state).toBe('stale');
    expect(db.review.basis).toBe('pod-reconstructed');
    expect(db.notes).toEqual([
      expect.stringMatching(/^StatefulSet db not readable \(HTTP 403: .*\): compared with the pod itself$/),
    ]);
  });

  it('a named namespace the user may not read is reported; the others are still audited', async () => {
    api.deny({ resource: 'namespaces', verb: 'get', namespace: 'legacy' });
    const { run, report: r } = await report(['-n', 'legacy,trial']);
    expect(run.code).toBe(EXIT_FAILED);
    expect(r.problems).toEqual([
      { resource: 'namespaces', namespace: 'legacy', status: 403, message: expect.stringMatching(/^HTTP 403: /) },
    ]);
    expect(r.namespaces.map((ns) => ns.name)).toEqual(['trial']);
  });

  it('a namespace that does not exist is bad input (exit 2)', async () => {
    const run = await audit(['-n', 'nope']);
    expect(run.code).toBe(EXIT_BAD_INPUT);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('dns-tuner audit: namespace "nope" does not exist in the cluster\n');
  });

  it('a selector the API refuses is bad input (exit 2)', async () => {
    const run = await audit(['-A', '-l', 'app in in (']);
    expect(run.code).toBe(EXIT_BAD_INPUT);
    expect(run.stderr).toMatch(
      /^dns-tuner audit: the API server refused the list of pods: HTTP 400: unable to parse requirement/,
    );
  });

  it('an unreachable API fails (exit 1), naming the server', async () => {
    const closed = await startFakeKubeApi();
    const kubeconfig = closed.kubeconfigPath;
    const url = closed.url;
    const { readFile, writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp(join((await import('node:os')).tmpdir(), 'audit-'));
    const copy = join(dir, 'kubeconfig');
    await writeFile(copy, await readFile(kubeconfig));
    await closed.close();
    const run = await audit(['-A', '--kubeconfig', copy]);
    expect(run.code).toBe(EXIT_FAILED);
    expect(run.stderr).toMatch(
      new RegExp(
        `^dns-tuner audit: the Kubernetes API at ${url.replaceAll('.', '\\.')} could not be read: listing namespaces: .*ECONNREFUSED`,
      ),
    );
  });

  it('forbidden to list namespaces with -A: exit 1, saying which RBAC is needed', async () => {
    api.deny({ resource: 'namespaces', verb: 'list' });
    const run = await audit(['-A']);
    expect(run.code).toBe(EXIT_FAILED);
    expect(run.stderr).toMatch(
      /^dns-tuner audit: listing namespaces: HTTP 403: .*manifests\/audit\/clusterrole\.yaml\)\n$/,
    );
  });

  it.each([
    [['-n', 'shop', '-A'], '-n and -A both choose the namespaces; give one'],
    [['-o', 'xml'], '--output must be text, json or yaml, got "xml"'],
    [['-n', 'Shop'], 'namespace "Shop" is not a namespace name (an RFC 1123 label)'],
    [['--page-size', '0'], '--page-size must be a whole number from 1 to 10000, got "0"'],
    [['--name', 'a.example,b.example'], '--name takes one name, got 2'],
    [['--show-all', '-o', 'json'], '--show-all is for the text list of workloads (json and yaml list every workload)'],
    [['stray'], 'unexpected argument "stray"'],
    [['--kubeconfig', '/nonexistent/kubeconfig'], 'kubeconfig /nonexistent/kubeconfig (--kubeconfig): not found'],
    [['--config', '/nonexistent/config.yaml'], '/nonexistent/config.yaml'],
  ])('refuses %j (exit 2)', async (args, message) => {
    const run = await audit(args);
    expect(run.code).toBe(EXIT_BAD_INPUT);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  });
});

describe('the built dns-tuner binary', () => {
  const BUILT = join(ROOT, 'dist', 'cli', 'dns-tuner.js');

  it('audits as a real process: the same JSON, exit 3', async () => {
    requireBuilt(BUILT);
    const child = spawnNode(BUILT, ['audit', '-A', '-o', 'json', '--config', EXAMPLE_CONFIG], {
      env: isolatedEnv({ KUBECONFIG: api.kubeconfigPath }),
      killAfterMs: 20_000,
    });
    const { code } = await child.exit;
    expect(child.stderr()).toBe('');
    expect(code).toBe(EXIT_CHANGES);
    const inProcess = await report(['-A']);
    expect(JSON.parse(child.stdout())).toEqual(inProcess.report);
  });

  it('lists audit in its help', async () => {
    const child = spawnNode(BUILT, ['help', 'audit'], { env: isolatedEnv(), killAfterMs: 20_000 });
    expect((await child.exit).code).toBe(0);
    expect(child.stdout()).toMatch(/^Usage: dns-tuner audit /);
    const top = spawnNode(BUILT, ['help'], { env: isolatedEnv(), killAfterMs: 20_000 });
    await top.exit;
    expect(top.stdout()).toContain('audit     which running pods are not tuned yet, and what to roll');
  });
});
