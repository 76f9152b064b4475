/**
 * `dns-tuner explain` as a real child process: from the .ts source (Node 24 type stripping) and from the built
 * dist/cli/dns-tuner.js, offline with the example files, from stdin, as JSON, and with --server against a real HTTPS
 * webhook started here (whose answers must match the offline ones exactly). Bad input is refused by runExplain
 * before anything else happens, so those cases call it in this process with in-memory streams (a child process each
 * would cost seconds and test nothing more); the command dispatch (dns-tuner.ts) still runs as a real process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { httpsPost } from '../../lab/client.ts';
import {
  asListed,
  coreDnsConfigMap,
  denyAllEgress,
  dnsToKubeDnsOnly,
  kubeDnsService,
  type NodeLocalOptions,
  nodeLocalDaemonSet,
} from '../../lab/cluster-dns.ts';
import { EXAMPLE_CONFIG, EXAMPLE_NAMESPACES, ROOT } from '../../lab/paths.ts';
import { makeCa } from '../../lab/pki.ts';
import { isolatedEnv, requireBuilt, spawnNode } from '../../lab/process.ts';
import { type Json, responseOf } from '../../lab/review.ts';
import { runExplain } from '../../src/cli/explain.ts';
import type { DryRunReport } from '../../src/dryrun/report.ts';
import { type HttpsWebhook, startHttpsWebhook } from '../support/webhook.ts';
import { controllerPod, reviewOf, workload } from '../support/workloads.ts';

const SOURCE = join(ROOT, 'src', 'cli', 'dns-tuner.ts');
const BUILT = join(ROOT, 'dist', 'cli', 'dns-tuner.js');
const RUN_TIMEOUT_MS = 20_000;

let dir: string;
let web: HttpsWebhook;
let server: string;
let caFile: string;
let otherCaFile: string;
let deployFile: string;
const OFFLINE = ['--config', EXAMPLE_CONFIG, '--namespaces', EXAMPLE_NAMESPACES];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed after RUN_TIMEOUT_MS), optionally feeding stdin. */
async function cli(args: string[], opts: { stdin?: string; entry?: string } = {}): Promise<Run> {
  const run = spawnNode(opts.entry ?? SOURCE, args, {
    env: isolatedEnv(),
    stdin: opts.stdin,
    killAfterMs: RUN_TIMEOUT_MS,
  });
  const { code } = await run.exit;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** `dns-tuner explain ARGS` through runExplain in this process, stdin from `stdin`, stdout and stderr collected. */
async function explainInProcess(args: string[], stdin?: string): Promise<Run> {
  const out = { stdout: '', stderr: '' };
  const sink = (name: keyof typeof out) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const io = {
    stdin: Readable.from(stdin === undefined ? [] : [stdin]),
    stdout: sink('stdout'),
    stderr: sink('stderr'),
  };
  const code = await runExplain(args, io);
  return { code, ...out };
}

/** What `kubectl get deploy checkout -o yaml` prints: defaulted fields, status, managed fields. */
function kubectlDeployment(): Json {
  const deploy = workload('Deployment', 'checkout', 'shop', {
    labels: { app: 'checkout' },
    spec: { dnsPolicy: 'ClusterFirst', restartPolicy: 'Always', schedulerName: 'default-scheduler' },
  }) as Json & { metadata: Json };
  deploy.metadata.uid = '6f1c1c40-1a8a-4c55-9d3e-2f2b7c1f0a11';
  deploy.metadata.resourceVersion = '123456';
  deploy.metadata.generation = 3;
  deploy.metadata.managedFields = [{ manager: 'kubectl', operation: 'Update', apiVersion: 'apps/v1' }];
  deploy.status = { replicas: 2, readyReplicas: 2, observedGeneration: 3 };
  return deploy;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-explain-'));
  web = await startHttpsWebhook({ caName: 'explain-test CA', hosts: ['localhost', '127.0.0.1'] });
  server = `https://127.0.0.1:${web.port}`;
  const other = await makeCa({ commonName: 'some other CA' });
  caFile = join(dir, 'ca.crt');
  otherCaFile = join(dir, 'other.crt');
  await writeFile(caFile, web.ca.cert);
  await writeFile(otherCaFile, other.cert);
  deployFile = join(dir, 'deploy.yaml');
  // A typical manifest file: the Service beside its Deployment.
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'checkout', namespace: 'shop' } };
  const deploy = workload('Deployment', 'checkout', 'shop', { labels: { app: 'checkout' } });
  await writeFile(deployFile, `${stringify(service)}---\n${stringify(deploy)}`);
});

afterAll(async () => {
  await web?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('dns-tuner explain, offline', () => {
  it('prints the report for a Deployment file: decision, sources, resolv.conf diff, query cost, warnings', async () => {
    const run = await cli(['explain', '-f', deployFile, ...OFFLINE]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('object 1 (Service/checkout): no pod template, passed over');
    const out = run.stdout;
    expect(out).toContain('dns-tuner dry run: Deployment shop/checkout (as the pod checkout-* it creates)');
    expect(out).toContain('Namespace shop (from the namespace source): label dns-tuner.io/policy=default');
    expect(out).toContain('Decision: MUTATED (policy-applied)');
    expect(out).toMatch(/^ {2}node-local +true +policy default$/m);
    expect(out).toContain(
      [
        '  --- resolv.conf (before)',
        '  +++ resolv.conf (after)',
        '  @@ -1,3 +1,4 @@',
        '   search shop.svc.cluster.local svc.cluster.local cluster.local',
        '  +nameserver 169.254.20.10',
        '   nameserver 10.96.0.10',
        '  -options ndots:5',
        '  +options ndots:3 single-request-reopen timeout:1 attempts:2',
      ].join('\n'),
    );
    expect(out).toMatch(/^ {2}s3\.eu-west-1\.amazonaws\.com +3 +8 → 2 +8 → 4 /m);
    expect(out).toMatch(/^ {2}api\.example\.com +2 +8 → 8 +8 → 16 /m);
    expect(out).toContain('[resolver] musl/Alpine sends every query to all 2 nameservers');
  });

  it('the built dist/cli/dns-tuner.js prints the same report', async () => {
    const [built, source] = await Promise.all([
      cli(['explain', '-f', deployFile, ...OFFLINE], { entry: requireBuilt(BUILT) }),
      cli(['explain', '-f', deployFile, ...OFFLINE]),
    ]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toBe(source.stdout);
  });

  it('reads stdin with -f - (kubectl get deploy x -o yaml | dns-tuner explain -f -)', async () => {
    const run = await cli(['explain', '-f', '-', ...OFFLINE], { stdin: stringify(kubectlDeployment()) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Decision: MUTATED (policy-applied)');
    // kubectl's output already carries the defaulted dnsPolicy: nothing to fill in.
    expect(run.stdout).not.toContain('filled in');
  });

  it('--output json prints the endpoint’s JSON, whose patch is what /mutate returns', async () => {
    const run = await cli(['explain', '-f', '-', '-o', 'json', ...OFFLINE], { stdin: stringify(kubectlDeployment()) });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as DryRunReport;
    expect(report).toMatchObject({ kind: 'DryRunReport', decision: 'mutated', policy: 'default' });
    const review = reviewOf(report.pod as Json, 'shop');
    const res = await httpsPost(web.port, '/mutate', JSON.stringify(review), {
      ca: web.ca.cert,
      servername: 'localhost',
    });
    expect(report.patch.base64).toBe(responseOf(res.body).patch);
  });

  it('explains every pod-bearing object of a List, as a JSON array', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        workload('Deployment', 'a', 'shop'),
        workload('CronJob', 'b', 'payments'),
        workload('Job', 'c', 'legacy'),
      ],
    };
    const run = await cli(['explain', '-f', '-', '-o', 'json', ...OFFLINE], { stdin: JSON.stringify(list) });
    expect(run.code, run.stderr).toBe(0);
    const reports = JSON.parse(run.stdout) as DryRunReport[];
    expect(reports.map((r) => [r.input.kind, r.decision, r.policy])).toEqual([
      ['Deployment', 'mutated', 'default'],
      ['CronJob', 'mutated', 'options-only'],
      ['Job', 'skipped', null],
    ]);
  });

  it('without namespace information says the namespace is unknown and exits 0', async () => {
    const run = await cli(['explain', '-f', deployFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Namespace shop: nothing known about it');
    expect(run.stdout).toContain('Decision: SKIPPED (namespace-unknown)');
  });

  it('answers "what if" with --label and --annotation', async () => {
    const pod = controllerPod('web', 'legacy');
    const run = await cli(
      [
        'explain',
        '-f',
        '-',
        '-o',
        'json',
        '--config',
        EXAMPLE_CONFIG,
        '--label',
        'dns-tuner.io/policy=default',
        '--annotation',
        'dns-tuner.io/ndots=2',
        '--names',
        'redis,db.example.org',
      ],
      { stdin: JSON.stringify(pod) },
    );
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout) as DryRunReport;
    expect(r.namespace).toMatchObject({
      name: 'legacy',
      origin: 'what-if',
      labels: { 'dns-tuner.io/policy': 'default' },
    });
    expect(r.settings?.ndots).toEqual({ value: 2, source: 'namespace-annotation', from: 'dns-tuner.io/ndots' });
    expect(r.queryCost?.rows.map((x) => x.name)).toContain('db.example.org');
  });

  const bad: Array<{ what: string; args: string[]; stdin?: string; says: RegExp }> = [
    {
      what: 'a YAML syntax error',
      args: ['-f', '-'],
      stdin: 'kind: Pod\nmetadata: [x\n',
      says: /stdin: not valid YAML: line \d+, column \d+/,
    },
    { what: 'not a Kubernetes object', args: ['-f', '-'], stdin: 'just text\n', says: /not a Kubernetes object/ },
    {
      what: 'an unsupported kind',
      args: ['-f', '-'],
      stdin: 'kind: Service\n',
      says: /kind "Service" is not supported/,
    },
    {
      what: 'a workload without a template',
      args: ['-f', '-', '-n', 'shop'],
      stdin: 'kind: Deployment\nmetadata: {name: x}\n',
      says: /Deployment "x" has no pod template/,
    },
    { what: 'an empty file', args: ['-f', '-'], stdin: '', says: /no objects/ },
    {
      what: 'an unreadable file',
      args: ['-f', '/nonexistent/deploy.yaml'],
      says: /\/nonexistent\/deploy.yaml: no such file/,
    },
    { what: 'no -f', args: [], says: /-f FILE is required/ },
    { what: 'an unknown flag', args: ['-f', '-', '--frobnicate'], stdin: '', says: /Unknown option '--frobnicate'/ },
    { what: 'a bad --output', args: ['-f', '-', '-o', 'xml'], stdin: '', says: /--output must be text or json/ },
    { what: 'a bad --label', args: ['-f', '-', '--label', 'nope'], stdin: '', says: /--label takes KEY=VALUE/ },
    {
      what: '--cacert without --server',
      args: ['-f', '-', '--cacert', 'x'],
      stdin: '',
      says: /--cacert needs --server/,
    },
    {
      what: 'an invalid config file',
      args: ['-f', '-', '--config', EXAMPLE_NAMESPACES],
      stdin: 'kind: Pod\n',
      says: /invalid config/,
    },
  ];
  for (const c of bad) {
    it(`exits 2 for ${c.what}`, async () => {
      const run = await explainInProcess(c.args, c.stdin);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(c.says);
      expect(run.stdout).toBe('');
    });
  }

  it('exits 2 for a scalar among the items of a List, and still explains the pods beside it', async () => {
    const list = { kind: 'List', items: [kubectlDeployment(), 'just-a-string', 42] };
    const run = await explainInProcess(['-f', '-', '--namespaces', EXAMPLE_NAMESPACES], JSON.stringify(list));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('object 2 (object): not a Kubernetes object');
    expect(run.stderr).toContain('object 3 (object): not a Kubernetes object');
    expect(run.stdout).toContain('Decision: MUTATED (policy-applied)');
  });

  it('reads YAML as kubectl does (YAML 1.1): `yes` is a boolean and `<<` merges a mapping', async () => {
    const yaml = [
      'kind: Pod',
      'apiVersion: v1',
      'metadata: {name: p, namespace: shop}',
      'x-common: &common {dnsPolicy: ClusterFirst}',
      'spec:',
      '  <<: *common',
      '  hostNetwork: no',
      '  containers: [{name: c, image: alpine}]',
      '',
    ].join('\n');
    const run = await explainInProcess(['-f', '-', '-o', 'json', '--namespaces', EXAMPLE_NAMESPACES], yaml);
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout) as DryRunReport;
    // Under YAML 1.2 `hostNetwork: no` is the string "no" (an unreadable pod), and `<<` is a key of its own.
    expect(r).toMatchObject({ decision: 'mutated', reason: 'policy-applied' });
    expect(r.dns?.before.dnsPolicy).toBe('ClusterFirst');
  });

  it('stops quietly when its reader closes the pipe early (`explain … | head -1`): no stack trace', async () => {
    // Enough objects that the output cannot fit in the pipe before the reader goes away.
    const list = { kind: 'List', items: Array.from({ length: 300 }, () => kubectlDeployment()) };
    const child = spawn(process.execPath, [SOURCE, 'explain', '-f', '-', '--namespaces', EXAMPLE_NAMESPACES], {
      cwd: ROOT,
      env: isolatedEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    child.stdin.end(JSON.stringify(list));
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|at .*\.(ts|js):\d+/);
    expect(code).toBe(0);
  });

  it('exits 2 for an unknown command', async () => {
    const run = await cli(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown command "frobnicate"');
  });
});

/**
 * What `kubectl get ns,networkpolicies -A -o yaml` and `kubectl -n kube-system get svc/kube-dns cm/coredns ds -o yaml`
 * print for a cluster with `shop` (no policy) and `locked` ("DNS only to kube-dns"), joined by `---`; `extra` objects
 * are added to the first List.
 */
function clusterFile(options: { daemonSets?: NodeLocalOptions[]; extra?: unknown[] } = {}): string {
  // kube-system always has DaemonSets besides the cache (kube-proxy, the CNI): `get ds` never prints an empty List.
  const kubeProxy = asListed('DaemonSet', 'apps/v1', {
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    spec: { template: { spec: { containers: [{ name: 'kube-proxy', command: ['/usr/local/bin/kube-proxy'] }] } } },
  });
  const list = (items: unknown[]) => stringify({ apiVersion: 'v1', kind: 'List', items });
  const ns = (name: string) =>
    asListed('Namespace', 'v1', { metadata: { name, labels: { 'dns-tuner.io/policy': 'default' } } });
  const netpol = (o: Parameters<typeof asListed>[2]) => asListed('NetworkPolicy', 'networking.k8s.io/v1', o);
  return `${list([
    ns('shop'),
    ns('locked'),
    netpol(denyAllEgress('locked')),
    netpol(dnsToKubeDnsOnly('locked')),
    ...(options.extra ?? []),
  ])}---\n${list([
    asListed('Service', 'v1', kubeDnsService()),
    asListed('ConfigMap', 'v1', coreDnsConfigMap()),
    kubeProxy,
    ...(options.daemonSets ?? [{}]).map((o) => asListed('DaemonSet', 'apps/v1', nodeLocalDaemonSet(o))),
  ])}`;
}

describe("dns-tuner explain with the cluster's objects (offline parity with the webhook in that cluster)", () => {
  const explainIn = async (namespace: string, file: string, config = EXAMPLE_CONFIG, output = 'text') => {
    const pod = controllerPod('web', namespace);
    return explainInProcess(['-f', '-', '-o', output, '--config', config, '--namespaces', file], stringify(pod));
  };
  const write = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  it('"DNS only to kube-dns" keeps the pod off the cache and prints the policy that fixes it; applied, the pod is rewritten', async () => {
    const file = await write('cluster.yaml', clusterFile());
    const run = await explainIn('locked', file);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Decision: MUTATED (node-local-blocked-by-networkpolicy)');
    expect(run.stdout).toContain(`Cluster (facts from file ${file};`);
    expect(run.stdout).toMatch(/kube-dns IP +10\.96\.0\.10 +config, verified: an IP of Service kube-system\/kube-dns/);
    expect(run.stdout).toContain(
      'NetworkPolicies selecting the pod for egress: locked/default-deny-egress, locked/allow-dns-to-kube-dns',
    );
    expect(run.stdout).toContain(
      'to the node-local cache 169.254.20.10: UDP 53 blocked (locked/allow-dns-to-kube-dns egress[0] selects pods, never a node address)',
    );
    expect(run.stdout).toContain(
      'to kube-dns 10.96.0.10: UDP 53 allowed if the selectors of locked/allow-dns-to-kube-dns egress[0] match the CoreDNS pods',
    );
    // The printed policy, cut out of the report and added to the cluster, lets the pod reach the cache.
    const lines = run.stdout.split('\n');
    const from = lines.findIndex((l) => l.includes('The NetworkPolicy that lets these pods reach the cache'));
    const to = lines.findIndex((l, i) => i > from && l.trim() === '');
    const yaml = lines
      .slice(from + 1, to)
      .map((l) => l.slice(4))
      .join('\n');
    const { parse } = await import('yaml');
    const fixed = await write('fixed.yaml', clusterFile({ extra: [parse(yaml)] }));
    const after = await explainIn('locked', fixed);
    expect(after.stdout).toContain('Decision: MUTATED (policy-applied)');
    expect(after.stdout).toContain('this pod: pointed at the node-local cache');
  });

  it('a transparent-mode cluster gets options only, and the cost table shows its one nameserver', async () => {
    const file = await write('transparent.yaml', clusterFile({ daemonSets: [{ transparent: true }] }));
    const run = await explainIn('shop', file, EXAMPLE_CONFIG, 'json');
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout) as DryRunReport;
    expect(r).toMatchObject({ decision: 'mutated', reason: 'node-local-transparent' });
    expect(r.dns?.after.dnsPolicy).toBe('ClusterFirst');
    expect(r.cluster?.nodeLocal).toMatchObject({ mode: 'transparent', daemonSet: 'kube-system/node-local-dns' });
    expect(r.queryCost?.rows.every((row) => Object.keys(row.glibc.after.perNameserver).join() === '10.96.0.10')).toBe(
      true,
    );
    expect(r.queryCost?.notes[0]).toMatch(/^transparent mode: 10\.96\.0\.10 is answered by the NodeLocal DNSCache/);
  });

  it('a cluster without the cache gets options only', async () => {
    const file = await write('no-cache.yaml', clusterFile({ daemonSets: [] }));
    const r = JSON.parse((await explainIn('shop', file, EXAMPLE_CONFIG, 'json')).stdout) as DryRunReport;
    expect(r).toMatchObject({ reason: 'node-local-unavailable', cluster: { nodeLocal: { mode: 'absent' } } });
  });

  it('a wrong clusterDNS never reaches the pod; an empty one is discovered', async () => {
    const file = await write('cluster.yaml', clusterFile());
    const config = await import('node:fs/promises').then((fs) => fs.readFile(EXAMPLE_CONFIG, 'utf8'));
    const wrong = await write('wrong.yaml', config.replace('clusterDNS: 10.96.0.10', 'clusterDNS: 10.0.0.10'));
    const run = await explainIn('shop', file, wrong);
    expect(run.stdout).toContain('Decision: MUTATED (cluster-dns-mismatch)');
    expect(run.stdout).toContain(
      'MISMATCH: config clusterDNS 10.0.0.10 is not an IP of Service kube-system/kube-dns (10.96.0.10)',
    );
    expect(run.stdout).not.toMatch(/nameservers.*10\.0\.0\.10/);
    const unset = await write('unset.yaml', config.replace(/^clusterDNS: .*$/m, ''));
    const discovered = JSON.parse((await explainIn('shop', file, unset, 'json')).stdout) as DryRunReport;
    expect(discovered.dns?.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
    expect(discovered.cluster?.kubeDns).toEqual({ value: '10.96.0.10', from: 'Service kube-system/kube-dns' });
  });

  it('with Namespaces only (the examples) the config is trusted, and the report says so', async () => {
    const run = await explainIn('shop', EXAMPLE_NAMESPACES);
    expect(run.stdout).toContain('Decision: MUTATED (policy-applied)');
    expect(run.stdout).toContain(`config (not verified: no services in file ${EXAMPLE_NAMESPACES})`);
    expect(run.stdout).toContain(`NetworkPolicies: not checked (no networkpolicies in file ${EXAMPLE_NAMESPACES})`);
  });

  it("--label replaces the file's namespace, not its other objects", async () => {
    const file = await write('cluster.yaml', clusterFile());
    const pod = controllerPod('web', 'locked');
    const run = await explainInProcess(
      [
        '-f',
        '-',
        '-o',
        'json',
        '--config',
        EXAMPLE_CONFIG,
        '--namespaces',
        file,
        '--label',
        'dns-tuner.io/policy=default',
      ],
      stringify(pod),
    );
    expect(JSON.parse(run.stdout)).toMatchObject({ reason: 'node-local-blocked-by-networkpolicy' });
  });
});

describe('dns-tuner explain --server', () => {
  it('asks a running webhook over HTTPS and prints the same text and JSON as offline', async () => {
    for (const output of ['text', 'json']) {
      const [remote, local] = await Promise.all([
        cli(['explain', '-f', deployFile, '-o', output, '--server', server, '--cacert', caFile]),
        cli(['explain', '-f', deployFile, '-o', output, ...OFFLINE]),
      ]);
      expect(remote.code, remote.stderr).toBe(0);
      expect(remote.stdout).toBe(local.stdout);
    }
  });

  it('passes --label as a what-if, -n and --names as query parameters', async () => {
    const pod = controllerPod('web', 'legacy');
    delete (pod.metadata as Json).namespace;
    const run = await cli(
      [
        'explain',
        '-f',
        '-',
        '-n',
        'legacy',
        '--names',
        'redis',
        '--label',
        'dns-tuner.io/policy=default',
        '-o',
        'json',
      ].concat(['--server', server, '--cacert', caFile]),
      { stdin: JSON.stringify(pod) },
    );
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout) as DryRunReport;
    expect(r).toMatchObject({ decision: 'mutated', namespace: { name: 'legacy', origin: 'what-if' } });
    expect(r.queryCost?.rows.at(-1)?.name).toBe('redis');
  });

  it('refuses a server whose certificate it cannot verify (exit 1), unless --insecure', async () => {
    const refused = await cli(['explain', '-f', deployFile, '--server', server, '--cacert', otherCaFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/certificate|UNABLE_TO|self.signed/i);
    const insecure = await cli(['explain', '-f', deployFile, '--server', server, '--insecure']);
    expect(insecure.code, insecure.stderr).toBe(0);
    expect(insecure.stdout).toContain('Decision: MUTATED');
  });

  it('exits 2 with the server’s message when the server says the input is bad', async () => {
    const run = await cli(['explain', '-f', '-', '--server', server, '--cacert', caFile], {
      stdin: 'kind: Deployment\nmetadata: {name: x, namespace: shop}\n',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/answered 400: Deployment "x" has no pod template: spec.template is missing/);
  });

  it('exits 1 when nothing listens at --server', async () => {
    const run = await cli(['explain', '-f', deployFile, '--server', 'https://127.0.0.1:1', '--insecure']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ECONNREFUSED/);
  });
});
