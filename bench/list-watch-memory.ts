/**
 * What keeping a cache of Pods costs, @kubernetes/client-node's informer against this project's list+watch cache
 * (docs/adr/0007-own-list-watch.md), and what each asks of the API server. The fake API server
 * (test/support/fake-kube-api.ts) holds N pods shaped like a Deployment's (managedFields, status, a projected token
 * volume: ~4.1 KiB of JSON each); each contender runs in its own child process (`--expose-gc`), syncs, collects
 * garbage and reports heap and RSS above a baseline child that imported the same modules and synced nothing.
 *
 *   node bench/list-watch-memory.ts [--pods 5000] [--rounds 3] [--idle-seconds 0]
 *
 * `--idle-seconds S` also leaves each contender watching a quiet cluster for S seconds and counts the watches it
 * opened meanwhile (client-node's watch aborts after 30 s without data, and asks for no bookmarks).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MIB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);

interface Measurement {
  mode: string;
  items: number;
  heapUsed: number;
  rss: number;
  syncMs: number;
}

const modes = ['baseline', 'informer', 'cache-full', 'cache-projected'] as const;
type Mode = (typeof modes)[number];

function pod(index: number, namespace: string): Record<string, unknown> {
  const name = `web-7d9f8c6b5-${String(index).padStart(5, '0')}`;
  const time = '2026-11-29T10:00:00Z';
  return {
    metadata: {
      name,
      namespace,
      generateName: 'web-7d9f8c6b5-',
      labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5', team: `team-${index % 40}` },
      annotations: { 'kubectl.kubernetes.io/restartedAt': time, 'prometheus.io/scrape': 'true' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-7d9f8c6b5',
          uid: '0b1e7c4e-1d3c-4f57-9a43-3f1c2f0d2a11',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:generateName': {},
              'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:team': {} },
              'f:ownerReferences': { '.': {}, 'k:{"uid":"0b1e7c4e-1d3c-4f57-9a43-3f1c2f0d2a11"}': {} },
            },
            'f:spec': {
              'f:containers': {
                'k:{"name":"app"}': {
                  '.': {},
                  'f:env': { '.': {}, 'k:{"name":"LOG_LEVEL"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
                  'f:image': {},
                  'f:imagePullPolicy': {},
                  'f:name': {},
                  'f:ports': { '.': {}, 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {} } },
                  'f:resources': { '.': {}, 'f:limits': { '.': {}, 'f:memory': {} }, 'f:requests': { '.': {} } },
                },
              },
              'f:dnsPolicy': {},
              'f:restartPolicy': {},
              'f:schedulerName': {},
              'f:terminationGracePeriodSeconds': {},
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:status': {
              'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:lastTransitionTime': {}, 'f:status': {} } },
              'f:containerStatuses': {},
              'f:hostIP': {},
              'f:phase': {},
              'f:podIP': {},
              'f:podIPs': { '.': {}, 'k:{"ip":"10.244.1.23"}': { '.': {}, 'f:ip': {} } },
              'f:startTime': {},
            },
          },
          subresource: 'status',
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/shop/web:1.42.0',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'LOG_LEVEL', value: 'info' }],
          resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
          volumeMounts: [
            {
              name: 'kube-api-access-x2x9z',
              readOnly: true,
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            },
          ],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [
        {
          name: 'kube-api-access-x2x9z',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
            defaultMode: 420,
          },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      nodeName: `node-${index % 20}`,
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
        (type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: time }),
      ),
      hostIP: '192.168.1.10',
      podIP: '10.244.1.23',
      podIPs: [{ ip: '10.244.1.23' }],
      startTime: time,
      containerStatuses: [
        {
          name: 'app',
          state: { running: { startedAt: time } },
          ready: true,
          restartCount: 0,
          image: 'registry.example.com/shop/web:1.42.0',
          imageID: `registry.example.com/shop/web@sha256:${'ab'.repeat(32)}`,
          containerID: `containerd://${'cd'.repeat(32)}`,
          started: true,
        },
      ],
      qosClass: 'Burstable',
    },
  };
}

/** What an audit of pod DNS needs of a Pod (issue 11): the DNS fields and the owner. */
function projectPod(object: unknown): Record<string, unknown> {
  const o = object as {
    metadata: { ownerReferences?: Array<{ kind: string; name: string }> };
    spec: Record<string, unknown>;
  };
  const owner = o.metadata.ownerReferences?.[0];
  return {
    dnsPolicy: o.spec.dnsPolicy,
    dnsConfig: o.spec.dnsConfig,
    hostNetwork: o.spec.hostNetwork,
    owner: owner && `${owner.kind}/${owner.name}`,
  };
}

const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run the child with --expose-gc');
  for (let i = 0; i < 3; i++) collect();
};

async function child(mode: Mode, kubeconfig: string, idleSeconds: number): Promise<void> {
  const { KubeConfig, CoreV1Api, makeInformer } = await import('@kubernetes/client-node');
  const { createApiClient } = await import('../src/kube/api-client.ts');
  const { connectionOf, loadKubeConfig } = await import('../src/kube/kubeconfig.ts');
  const { createListWatchCache } = await import('../src/kube/list-watch.ts');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const started = performance.now();
  let items = 0;
  let stop = async () => {};
  if (mode === 'informer') {
    const api = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, '/api/v1/pods', () => api.listPodForAllNamespaces());
    await informer.start();
    items = informer.list().length;
    stop = () => informer.stop();
  } else if (mode !== 'baseline') {
    const cache = createListWatchCache({
      client: createApiClient(connectionOf(loadKubeConfig({ kubeconfig, env: {} }))),
      path: '/api/v1/pods',
      relistIntervalMs: 0,
      project: mode === 'cache-full' ? (object) => object : projectPod,
    });
    await cache.start();
    items = cache.size;
    stop = () => cache.stop();
  }
  const syncMs = performance.now() - started;
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  const result: Measurement = { mode, items, heapUsed, rss, syncMs };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (idleSeconds > 0) await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  await stop();
  process.exit(0);
}

function runChild(mode: Mode, kubeconfig: string, idleSeconds: number): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--expose-gc', SELF, '--child', mode, '--kubeconfig', kubeconfig, '--idle-seconds', String(idleSeconds)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`${mode} child exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as Measurement);
    });
  });
}

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '5000' },
    'idle-seconds': { type: 'string', default: '0' },
    rounds: { type: 'string', default: '3' },
    child: { type: 'string' },
    kubeconfig: { type: 'string' },
  },
});
const idleSeconds = Number(args['idle-seconds']);

if (args.child) {
  await child(args.child as Mode, args.kubeconfig!, idleSeconds);
} else {
  const { startFakeKubeApi } = await import('../lab/fake-kube-api.ts');
  const count = Number(args.pods);
  const fake = await startFakeKubeApi();
  const namespaces = Array.from({ length: 50 }, (_, i) => `team-${i}`);
  for (const ns of namespaces) fake.create(ns);
  for (let i = 0; i < count; i++) {
    const namespace = namespaces[i % namespaces.length]!;
    fake.createObject('pods', pod(i, namespace) as Parameters<typeof fake.createObject>[1]);
  }
  const first = fake.objectKeys('pods')[0]!.split('/');
  const bytes = JSON.stringify(fake.getObject('pods', first[1]!, first[0])).length;
  const rounds = Number(args.rounds);
  const results = new Map<Mode, Measurement[]>(modes.map((m) => [m, []]));
  const requests: Record<string, string[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const before = fake.requests.length;
      const idle = mode === 'baseline' || round > 0 ? 0 : idleSeconds;
      results.get(mode)!.push(await runChild(mode, fake.kubeconfigPath, idle));
      if (round === 0) {
        requests[mode] = fake.requests
          .slice(before)
          .filter((r) => r.resource === 'pods')
          .map((r) => `${r.kind} ${new URLSearchParams(r.query).toString()}`);
      }
    }
  }
  await fake.close();
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const of = (mode: Mode, field: 'heapUsed' | 'rss' | 'syncMs') => median(results.get(mode)!.map((r) => r[field]));
  console.log(
    `${count} pods of ${(bytes / 1024).toFixed(1)} KiB JSON each; Node ${process.version}; medians of ${rounds}`,
  );
  console.log('| contender | objects | heap above baseline | RSS above baseline | sync |');
  console.log('|---|---|---|---|---|');
  for (const mode of modes.slice(1)) {
    const heap = ((of(mode, 'heapUsed') - of('baseline', 'heapUsed')) / MIB).toFixed(1);
    const rss = ((of(mode, 'rss') - of('baseline', 'rss')) / MIB).toFixed(1);
    const items = results.get(mode)![0]!.items;
    console.log(`| ${mode} | ${items} | ${heap} MiB | ${rss} MiB | ${of(mode, 'syncMs').toFixed(0)} ms |`);
  }
  const baseHeap = (of('baseline', 'heapUsed') / MIB).toFixed(1);
  console.log(
    `baseline (both libraries imported): heap ${baseHeap} MiB, RSS ${(of('baseline', 'rss') / MIB).toFixed(1)} MiB`,
  );
  for (const [mode, list] of Object.entries(requests)) {
    if (list.length > 0)
      console.log(`${mode} requests${idleSeconds ? ` (incl. ${idleSeconds} s idle)` : ''}: ${list.join(' ; ')}`);
  }
}
