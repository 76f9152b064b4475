/**
 * `dns-tuner audit -A` over a large cluster: the built CLI (`node dist/cli/dns-tuner.js`) as its own process under
 * GNU time (wall time and peak RSS are the audit's, not the API server's), against the fake Kubernetes API
 * (lab/fake-kube-api.ts) holding N running pods shaped like real ones (~4 KiB of JSON each: managedFields, a
 * projected token volume, container statuses), in Deployments of R replicas with three ReplicaSets each (two old,
 * scaled to 0, as a revision history keeps them), 250 pods per namespace. Two namespaces in five are opted in; there,
 * a quarter of the Deployments predate the opt-in (untuned), a quarter are tuned, a quarter were tuned under an older
 * policy (stale) and a quarter are half and half. The rest are not opted in (skipped).
 *
 *   npm run bench:audit [-- --out docs/benchmarks.md] [--sizes 5000:10,20000:10,50000:10,50000:100] [--rounds 3]
 *
 * Each size: its own fake API; the audit runs `rounds` times (`-o json`, the largest output); the table gives the
 * median wall time and the largest peak RSS, and the counts are checked against what was built.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clusterBuilder, type PodPlan } from '../lab/audit-cluster.ts';
import { startFakeKubeApi } from '../lab/fake-kube-api.ts';
import { EXAMPLE_CONFIG, ROOT } from '../lab/paths.ts';
import { requireBuilt } from '../lab/process.ts';
import { median } from '../lab/stats.ts';
import type { AuditReport } from '../src/audit/report.ts';
import { loadConfig } from '../src/config/load.ts';
import { parseConfig } from '../src/config/schema.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { fixed, loadAverage, machine, shellWord, table } from './report.ts';

const SECTION_ID = 'bench:audit';
const SECTION = 'dns-tuner audit over a large cluster';
const BUILT = join(ROOT, 'dist', 'cli', 'dns-tuner.js');
const LIVE_HEAP = join(ROOT, 'bench', 'audit-live-heap.ts');
const PODS_PER_NAMESPACE = 250;

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    sizes: { type: 'string', default: '5000:10,20000:10,50000:10,50000:100' },
    rounds: { type: 'string', default: '3' },
  },
});
const sizes = args.sizes.split(',').map((s) => s.split(':').map(Number) as [number, number]);
const rounds = Number(args.rounds);

requireBuilt(BUILT);
const config = await loadConfig(EXAMPLE_CONFIG);
const olderPolicy = parseConfig({
  clusterDNS: '10.96.0.10',
  policies: { default: { ndots: 5, options: ['single-request-reopen'], nodeLocal: false } },
});
if (!olderPolicy.ok) throw new Error(olderPolicy.error);
const OLDER_POLICY = olderPolicy.config;

interface Built {
  pods: number;
  deployments: number;
  replicaSets: number;
  namespaces: number;
  expected: { untuned: number; stale: number; tuned: number; skipped: number };
}

/** ~4 KiB per pod, as the apiserver returns a Deployment's pod (managedFields, token volume, statuses). */
function podBulk(name: string) {
  const time = '2026-11-29T10:00:00Z';
  return {
    metadata: {
      annotations: { 'kubectl.kubernetes.io/restartedAt': time, 'prometheus.io/scrape': 'true' },
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} } },
            'f:spec': {
              'f:containers': {
                'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:ports': {}, 'f:env': {} },
              },
              'f:dnsPolicy': {},
              'f:restartPolicy': {},
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:podIP': {} } },
          subresource: 'status',
        },
      ],
    },
    spec: {
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      volumes: [
        {
          name: 'kube-api-access-x2x9z',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
          },
        },
      ],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
    status: {
      hostIP: '10.0.12.7',
      startTime: time,
      qosClass: 'Burstable',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: time,
      })),
      containerStatuses: [
        {
          name: 'app',
          ready: true,
          started: true,
          restartCount: 0,
          image: 'registry.example.com/app:1.0',
          imageID: `registry.example.com/app@sha256:${'4f'.repeat(32)}`,
          containerID: `containerd://${name.padEnd(64, '0').slice(0, 64)}`,
          state: { running: { startedAt: time } },
          lastState: {},
        },
      ],
    },
  };
}

const TEMPLATE = {
  spec: {
    containers: [
      {
        name: 'app',
        image: 'registry.example.com/app:1.0',
        env: [
          { name: 'LOG_LEVEL', value: 'info' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        ],
        resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
        ports: [{ containerPort: 8080, protocol: 'TCP' }],
        readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, periodSeconds: 10 },
      },
    ],
  },
};

async function build(pods: number, replicas: number) {
  const api = await startFakeKubeApi();
  const b = clusterBuilder(api, { config, podExtra: podBulk });
  // For the baseline: what the binary costs with nothing to read.
  b.namespace('empty');
  const built: Built = {
    pods: 0,
    deployments: 0,
    replicaSets: 0,
    namespaces: 0,
    expected: { untuned: 0, stale: 0, tuned: 0, skipped: 0 },
  };
  const perNamespace = Math.min(PODS_PER_NAMESPACE, pods);
  for (let n = 0; built.pods < pods; n++) {
    const ns = `team-${String(n).padStart(4, '0')}`;
    const optedIn = n % 5 < 2;
    b.namespace(ns, optedIn ? { 'dns-tuner.io/policy': 'default' } : {});
    built.namespaces++;
    for (let d = 0; d * replicas < perNamespace && built.pods < pods; d++) {
      const count = Math.min(replicas, pods - built.pods);
      const kind = optedIn ? d % 4 : -1;
      const plans: PodPlan[] = Array.from({ length: count }, (_, i): PodPlan => {
        if (kind === 0 || (kind === 3 && i % 2 === 0)) return 'created';
        if (kind === 1 || kind === 3) return 'admitted';
        if (kind === 2) return { admitted: OLDER_POLICY };
        return 'created';
      });
      const name = `svc-${d}`;
      b.deployment(ns, name, TEMPLATE, plans);
      // Revision history: two older ReplicaSets, scaled to zero.
      const uid = (api.getObject('deployments', name, ns)!.metadata as { uid: string }).uid;
      for (const revision of ['old1', 'old2']) {
        api.createObject('replicasets', {
          metadata: {
            name: `${name}-${revision}`,
            namespace: ns,
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true }],
          },
          spec: { replicas: 0, template: TEMPLATE },
        });
      }
      built.deployments++;
      built.replicaSets += 3;
      built.pods += count;
      if (kind === -1) built.expected.skipped += count;
      else if (kind === 0) built.expected.untuned += count;
      else if (kind === 1) built.expected.tuned += count;
      else if (kind === 2) built.expected.stale += count;
      else {
        built.expected.untuned += Math.ceil(count / 2);
        built.expected.tuned += Math.floor(count / 2);
      }
    }
  }
  // The event history is for watches; a list never reads it.
  api.compact();
  return { api, built };
}

interface Measured {
  seconds: number;
  maxRssKiB: number;
  /** With `liveHeap`: the live heap's high-water mark (bench/audit-live-heap.ts). */
  liveHeapBytes: number | undefined;
  outputBytes: number;
  report: AuditReport;
  exit: number | null;
}

async function runAudit(
  kubeconfig: string,
  dir: string,
  options: { scope?: string[]; liveHeap?: boolean; exit?: number } = {},
): Promise<Measured> {
  const timeFile = join(dir, 'time');
  const scope = options.scope ?? ['-A'];
  const node = [process.execPath, ...(options.liveHeap ? ['--expose-gc', '--import', LIVE_HEAP] : []), BUILT];
  const audit = ['audit', ...scope, '-o', 'json', '--config', EXAMPLE_CONFIG];
  const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, ...node, ...audit], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig },
  });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const heap = /^live-heap-max-bytes=(\d+)$/.exec(stderr.trim());
  if ((options.liveHeap ? heap === null : stderr !== '') || exit !== (options.exit ?? 3)) {
    throw new Error(`audit exited ${exit}, stderr: ${stderr}`);
  }
  // GNU time's last line is ours ("Command exited with non-zero status 3" may come before it).
  const [seconds, kib] = (await readFile(timeFile, 'utf8')).trim().split('\n').at(-1)!.split(/\s+/).map(Number);
  const output = Buffer.concat(chunks);
  return {
    seconds: seconds!,
    maxRssKiB: kib!,
    liveHeapBytes: heap === null ? undefined : Number(heap[1]),
    outputBytes: output.length,
    report: JSON.parse(output.toString('utf8')) as AuditReport,
    exit,
  };
}

const mib = (bytes: number) => fixed(bytes / 1024 / 1024, 0);

const rows: string[][] = [];
let baseline: Measured | undefined;
const dir = await mkdtemp(join(tmpdir(), 'bench-audit-'));
const loadBefore = loadAverage();
try {
  for (const [pods, replicas] of sizes) {
    const t0 = performance.now();
    const { api, built } = await build(pods, replicas);
    const buildSeconds = (performance.now() - t0) / 1000;
    const requestsBefore = api.requests.length;
    const runs: Measured[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await runAudit(api.kubeconfigPath, dir));
    const requests = (api.requests.length - requestsBefore) / rounds;
    const live = await runAudit(api.kubeconfigPath, dir, { liveHeap: true });
    baseline ??= await runAudit(api.kubeconfigPath, dir, { scope: ['-n', 'empty'], liveHeap: true, exit: 0 });
    await api.close();
    const last = runs.at(-1)!;
    const s = last.report.summary.states;
    const got = { untuned: s.untuned.pods, stale: s.stale.pods, tuned: s.tuned.pods, skipped: s.skipped.pods };
    if (JSON.stringify(got) !== JSON.stringify(built.expected) || last.exit !== 3) {
      throw new Error(`counts ${JSON.stringify(got)} (exit ${last.exit}), built ${JSON.stringify(built.expected)}`);
    }
    const row = [
      pods.toLocaleString('en-US'),
      `${built.deployments.toLocaleString('en-US')} (${replicas} pods each)`,
      built.replicaSets.toLocaleString('en-US'),
      built.namespaces.toLocaleString('en-US'),
      fixed(median(runs.map((m) => m.seconds)), 1),
      mib(runs.reduce((most, m) => Math.max(most, m.maxRssKiB), 0) * 1024),
      mib(live.liveHeapBytes!),
      String(Math.round(requests)),
      fixed(last.outputBytes / 1024 / 1024, 1),
      `${got.untuned.toLocaleString('en-US')} / ${got.stale.toLocaleString('en-US')} / ${got.tuned.toLocaleString('en-US')} / ${got.skipped.toLocaleString('en-US')}`,
    ];
    rows.push(row);
    process.stderr.write(
      `${pods} pods, ${replicas} per Deployment: built in ${buildSeconds.toFixed(1)} s; ${row.join(' | ')}\n`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const m = machine();
const command = ['npm', 'run', 'bench:audit', '--', ...process.argv.slice(2)].map(shellWord).join(' ');
const body = [
  `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memory}; Node ${m.node}.`,
  `- Command: \`${command}\`; ${rounds} runs per size.`,
  `- Date: ${new Date().toISOString()}. Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAverage()}.`,
  '- `node dist/cli/dns-tuner.js audit -A -o json` under GNU time against the fake API in the benchmark process',
  '  (which serves the lists from a snapshot, on the same two cores). Pods ~4 KiB of JSON each; the audit lists',
  '  them 500 at a time (`limit`/`continue`, Succeeded/Failed left out by a field selector), ReplicaSets as metadata',
  '  only, and reviews each Deployment template once. Wall: median; peak RSS: the largest of the runs.',
  '',
  table(
    [
      'running pods',
      'Deployments',
      'ReplicaSets',
      'namespaces',
      'wall s',
      'peak RSS MiB',
      'live heap MiB',
      'API requests',
      'JSON out MiB',
      'untuned / stale / tuned / skipped pods',
    ],
    rows,
  ),
  '',
  `Baseline: the same command on one namespace without pods (\`-n empty\`): ${mib(baseline!.maxRssKiB * 1024)} MiB peak RSS,`,
  `${mib(baseline!.liveHeapBytes!)} MiB live heap: the Node runtime, the review engine and @kubernetes/client-node, loaded to read`,
  'the kubeconfig (docs/adr/0007-own-list-watch.md). "Live heap" is the high-water mark of the heap in use right',
  'after a full GC, forced every 100 ms in one more, untimed run (bench/audit-live-heap.ts): what the audit holds at',
  'once — a verdict and a tally per workload, the page in hand, the report — never all the pods. Peak RSS above it',
  'is garbage of the pages gone by (~2 MiB of JSON each) that V8 had not collected yet.',
].join('\n');
process.stdout.write(`${body}\n`);
if (args.out) writeMarkedSection(args.out, SECTION_ID, SECTION, body);
