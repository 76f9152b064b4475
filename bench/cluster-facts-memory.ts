/**
 * `npm run bench:cluster-facts`: what the cluster facts cost (issue 10) with 10,000 NetworkPolicies — memory kept,
 * time to sync, and time per review.
 *
 * The fake API server (lab/fake-kube-api.ts) holds N NetworkPolicies shaped like a real cluster's (ten kinds of policy
 * per namespace — default deny, DNS to kube-dns, same-namespace, to a database, an ipBlock with `except`, ingress
 * only, matchExpressions — each as the API server returns it, with `kubectl apply`'s last-applied annotation and
 * managedFields), plus kube-system's DNS objects. Each contender runs in its own child process (`--expose-gc`),
 * syncs, collects garbage and reports heap and RSS above a baseline child that imported the same modules and synced
 * nothing:
 *
 * - `cluster-facts`: the webhook's source (src/cluster/cluster-source.ts): four caches, NetworkPolicies projected to
 *   what a decision reads;
 * - `whole-objects`: the same list+watch keeping every NetworkPolicy object whole (what a cache without a projection
 *   would hold), for scale.
 *
 * The cluster-facts child also times the engine on the example pod in a namespace with ten policies: `decide` with
 * the facts (the namespace's policies, the DaemonSet, the Service), without them, and the first review after a
 * NetworkPolicy change (the per-namespace index is rebuilt then).
 *
 *   npm run bench:cluster-facts [-- --policies 10000 --rounds 3 --out docs/benchmarks.md|-]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXAMPLE_CONFIG, EXAMPLE_REVIEW, ROOT } from '../lab/paths.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { factsMarkdown, hostFacts } from './host.ts';

const MIB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);
const POLICIES_PER_NAMESPACE = 10;
const modes = ['baseline', 'cluster-facts', 'whole-objects'] as const;
type Mode = (typeof modes)[number];

interface Measurement {
  mode: Mode;
  items: number;
  heapUsed: number;
  rss: number;
  syncMs: number;
  /** cluster-facts only: microseconds per review. */
  review?: { withFacts: number; withoutFacts: number; afterChange: number } | undefined;
}

function namespaceName(i: number): string {
  return `team-${String(i).padStart(5, '0')}`;
}

/** One of ten policies of namespace `ns`, as the API server returns it (kubectl-applied). */
function policy(ns: string, kind: number): Record<string, unknown> {
  const dns = [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ];
  const specs: Array<[string, Record<string, unknown>]> = [
    ['default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }],
    [
      'allow-dns',
      {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
            ports: dns,
          },
        ],
      },
    ],
    [
      'allow-same-namespace',
      {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      },
    ],
    [
      'web-to-db',
      {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ protocol: 'TCP', port: 5432 }] }],
      },
    ],
    [
      'egress-https',
      {
        podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'backend'] }] },
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.0.0/16'] } }],
            ports: [{ protocol: 'TCP', port: 443 }],
          },
        ],
      },
    ],
    [
      'from-ingress-controller',
      {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
            ports: [{ protocol: 'TCP', port: 8080 }],
          },
        ],
      },
    ],
    [
      'monitoring',
      {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { team: 'observability' } } }], ports: [{ port: 9090 }] },
        ],
      },
    ],
    [
      'egress-ports-range',
      {
        podSelector: { matchLabels: { app: 'worker' } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: '192.168.0.0/16' } }], ports: [{ protocol: 'TCP', port: 32000, endPort: 32767 }] },
        ],
      },
    ],
    [
      'batch-isolated',
      {
        podSelector: { matchExpressions: [{ key: 'job-name', operator: 'Exists' }] },
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'queue' } } }] }],
      },
    ],
    [
      'allow-node-local-dns',
      {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '169.254.20.10/32' } }], ports: dns }],
      },
    ],
  ];
  const [name, spec] = specs[kind % specs.length]!;
  const object = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec };
  return {
    metadata: {
      name,
      namespace: ns,
      generation: 1,
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(object)}\n` },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'networking.k8s.io/v1',
          time: '2026-11-29T10:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} } },
            'f:spec': { 'f:podSelector': {}, 'f:policyTypes': {} },
          },
        },
      ],
    },
    spec,
  };
}

const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run the child with --expose-gc');
  for (let i = 0; i < 3; i++) collect();
};

/**
 * Microseconds per call of each function: batches of `runs` calls, the functions taking turns, the fastest batch of
 * each (the shared machine's other load only ever adds time).
 */
function microsPer(runs: number, fns: Array<() => void>): number[] {
  const best = fns.map(() => Number.POSITIVE_INFINITY);
  for (const fn of fns) for (let i = 0; i < 500; i++) fn();
  for (let batch = 0; batch < 7; batch++) {
    fns.forEach((fn, k) => {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) fn();
      best[k] = Math.min(best[k]!, ((performance.now() - t0) * 1000) / runs);
    });
  }
  return best;
}

async function child(mode: Mode, kubeconfig: string, namespace: string): Promise<void> {
  const { createApiClient } = await import('../src/kube/api-client.ts');
  const { connectionOf, loadKubeConfig } = await import('../src/kube/kubeconfig.ts');
  const { createListWatchCache } = await import('../src/kube/list-watch.ts');
  const { createClusterFactsSource } = await import('../src/cluster/cluster-source.ts');
  const { parseConfigText } = await import('../src/config/load.ts');
  const { decide } = await import('../src/core/decide.ts');
  const { parsePodView } = await import('../src/kube/pod.ts');
  const client = createApiClient(connectionOf(loadKubeConfig({ kubeconfig, env: {} })));
  const started = performance.now();
  let syncMs = 0;
  let items = 0;
  let stop = async () => {};
  let review: Measurement['review'];
  const measure = () => {
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  };
  // Taken before the review timings, which allocate.
  let memory: { heapUsed: number; rss: number } | undefined;
  if (mode === 'whole-objects') {
    const cache = createListWatchCache({
      client,
      path: '/apis/networking.k8s.io/v1/networkpolicies',
      relistIntervalMs: 0,
      project: (object) => object,
    });
    await cache.start();
    syncMs = performance.now() - started;
    items = cache.size;
    stop = () => cache.stop();
  } else if (mode === 'cluster-facts') {
    const parsed = parseConfigText(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG);
    if (!parsed.ok) throw new Error(parsed.error);
    const config = parsed.config;
    const source = createClusterFactsSource({ client, discovery: config.discovery, relistIntervalMs: 0 });
    await source.start();
    syncMs = performance.now() - started;
    items = source.size('networkpolicies');
    stop = () => source.stop();
    memory = measure();
    const raw = (JSON.parse(readFileSync(EXAMPLE_REVIEW, 'utf8')) as { request: { object: Record<string, unknown> } })
      .request.object;
    const view = parsePodView(raw);
    if (!view.ok) throw new Error(view.error);
    const info = { name: namespace, labels: { 'dns-tuner.io/policy': 'default' }, annotations: {} };
    const input = { config, namespace, namespaceInfo: info, pod: view.pod, raw };
    const [withFacts = 0, withoutFacts = 0] = microsPer(1000, [
      () => decide({ ...input, clusterFacts: source.facts(namespace) }),
      () => decide(input),
    ]);
    // A NetworkPolicy event marks the per-namespace index stale: the next review rebuilds it.
    let rebuilds = 0;
    let rebuildMicros = 0;
    source.onChange(() => {
      const t0 = performance.now();
      source.facts(namespace);
      rebuildMicros += (performance.now() - t0) * 1000;
      rebuilds++;
    });
    process.stdout.write('ready-for-change\n');
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (rebuilds > 0) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    review = { withFacts, withoutFacts, afterChange: rebuildMicros / rebuilds };
  }
  const { heapUsed, rss } = memory ?? measure();
  const result: Measurement = { mode, items, heapUsed, rss, syncMs, review };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await stop();
  process.exit(0);
}

/** The V8 flags the Deployment runs the webhook with (manifests/base/deployment.yaml, NODE_OPTIONS). */
const DEPLOYMENT_FLAGS = ['--max-old-space-size=192', '--max-semi-space-size=8'];

function runChild(mode: Mode, kubeconfig: string, namespace: string, onReady: () => void): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [...DEPLOYMENT_FLAGS, '--expose-gc', SELF, '--child', mode, '--kubeconfig', kubeconfig, '--namespace', namespace],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready-for-change\n')) {
        out = out.replace('ready-for-change\n', '');
        onReady();
      }
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
    policies: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: join(ROOT, 'docs/benchmarks.md') },
    child: { type: 'string' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
  },
});

if (args.child) {
  await child(args.child as Mode, args.kubeconfig!, args.namespace!);
} else {
  const startedAt = new Date();
  const { startFakeKubeApi } = await import('../lab/fake-kube-api.ts');
  const { seedClusterDns } = await import('../lab/cluster-dns.ts');
  const count = Number(args.policies);
  const fake = await startFakeKubeApi();
  seedClusterDns(fake);
  const namespaces = Math.ceil(count / POLICIES_PER_NAMESPACE);
  for (let n = 0; n < namespaces; n++) fake.create(namespaceName(n), { labels: { 'dns-tuner.io/policy': 'default' } });
  for (let i = 0; i < count; i++) {
    const ns = namespaceName(Math.floor(i / POLICIES_PER_NAMESPACE));
    fake.createObject(
      'networkpolicies',
      policy(ns, i % POLICIES_PER_NAMESPACE) as Parameters<typeof fake.createObject>[1],
    );
  }
  const bytes =
    fake.objectKeys('networkpolicies').reduce((sum, key) => {
      const [ns, name] = key.split('/');
      return sum + JSON.stringify(fake.getObject('networkpolicies', name!, ns)).length;
    }, 0) / count;
  const reviewNamespace = namespaceName(Math.floor(namespaces / 2));
  const rounds = Number(args.rounds);
  const results = new Map<Mode, Measurement[]>(modes.map((m) => [m, []]));
  let change = 0;
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const onReady = () => {
        // One policy changes elsewhere in the cluster: the index of every namespace is rebuilt on the next review.
        const target = namespaceName(change++ % namespaces);
        fake.createObject('networkpolicies', {
          metadata: { name: `extra-${change}`, namespace: target },
          spec: { podSelector: {} },
        });
      };
      results.get(mode)!.push(await runChild(mode, fake.kubeconfigPath, reviewNamespace, onReady));
      if (mode === 'cluster-facts')
        fake.deleteObject('networkpolicies', `extra-${change}`, namespaceName((change - 1) % namespaces));
    }
  }
  await fake.close();
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const of = (mode: Mode, field: 'heapUsed' | 'rss' | 'syncMs') => median(results.get(mode)!.map((r) => r[field]));
  const reviewOf = (field: 'withFacts' | 'withoutFacts' | 'afterChange') =>
    median(results.get('cluster-facts')!.map((r) => r.review![field]));
  const above = (mode: Mode, field: 'heapUsed' | 'rss') => ((of(mode, field) - of('baseline', field)) / MIB).toFixed(1);
  const host = hostFacts();
  const lines = [
    `Command: \`npm run bench:cluster-facts\` (${count.toLocaleString('en')} NetworkPolicies in ${namespaces.toLocaleString('en')} ` +
      `namespaces, ${(bytes / 1024).toFixed(1)} KiB of JSON each on average; medians of ${rounds} child processes per contender, ` +
      `each with the Deployment's V8 flags \`${DEPLOYMENT_FLAGS.join(' ')}\`). ` +
      `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    factsMarkdown({ CPUs: `${host.cpus} × ${host.cpuModel}`, memory: host.memory, node: host.node }),
    '',
    '| contender | objects kept | heap above baseline | RSS above baseline | sync (list + watch open) |',
    '|---|--:|--:|--:|--:|',
    ...modes.slice(1).map((mode) => {
      const items = results.get(mode)![0]!.items;
      return `| ${mode} | ${items.toLocaleString('en')} | ${above(mode, 'heapUsed')} MiB | ${above(mode, 'rss')} MiB | ${of(mode, 'syncMs').toFixed(0)} ms |`;
    }),
    '',
    `Baseline child (the modules imported, nothing synced): heap ${(of('baseline', 'heapUsed') / MIB).toFixed(1)} MiB, ` +
      `RSS ${(of('baseline', 'rss') / MIB).toFixed(1)} MiB. \`cluster-facts\` holds the four caches (the kube-dns Service, ` +
      'the CoreDNS ConfigMap, the node-cache DaemonSet and every NetworkPolicy, projected); `whole-objects` one cache ' +
      'of the NetworkPolicies kept as the API server sends them. Ingress-only policies are not kept (they never ' +
      'bear on where DNS may go): hence fewer objects. The heap column is what stays; RSS is the high-water mark of ' +
      'the sync (every object read and validated once, page by page), which V8 keeps after collecting.',
    '',
    `Per review of the example pod in a namespace with ${POLICIES_PER_NAMESPACE} policies (\`decide\`, one thread, after warm-up): ` +
      `${reviewOf('withFacts').toFixed(1)} µs with the cluster facts (reading them included), ` +
      `${reviewOf('withoutFacts').toFixed(1)} µs without; the first review after a NetworkPolicy change anywhere rebuilds ` +
      `the per-namespace index: ${(reviewOf('afterChange') / 1000).toFixed(1)} ms once.`,
  ];
  const body = lines.join('\n');
  process.stdout.write(`${body}\n`);
  if (args.out !== '-') {
    writeMarkedSection(args.out!, 'bench:cluster-facts', 'What the cluster facts cost', body);
    process.stderr.write(`bench:cluster-facts: wrote ${args.out}\n`);
  }
}
