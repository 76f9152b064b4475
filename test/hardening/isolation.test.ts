/**
 * Nothing sent to the webhook can stop /mutate from answering (docs/adr/0008-dry-run-cannot-hurt-mutate.md): the
 * built server runs with the Deployment's own NODE_OPTIONS (read from manifests/base/deployment.yaml, so the test
 * follows the manifest), attackers send the worst bodies we know — YAML shaped to exhaust the heap or the CPU, JSON
 * at the size limit, pods with huge DNS lists — on their own connections, and an ordinary review is sent over and over
 * on another. Every ordinary review must be answered with its patch well inside the apiserver's 3 s timeout, the
 * attacks must get coded answers (never a crash, never a 500), and the process must still be alive at the end.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  isolatedEnv,
  loopbackPorts,
  MAIN,
  type NodeRun,
  requireBuilt,
  spawnNode,
  waitForLog,
} from '../../lab/process.ts';
import {
  EXAMPLE_CONFIG,
  EXAMPLE_NAMESPACES,
  exampleReview,
  httpsPost,
  type Json,
  ROOT,
  responseOf,
  reviewIn,
  writeServingFiles,
} from '../support/webhook.ts';

/** The webhook's timeoutSeconds (manifests/base/webhook.yaml): past it the apiserver admits the pod untuned. */
const APISERVER_TIMEOUT_MS = 3_000;

async function deploymentNodeOptions(): Promise<string> {
  const docs = parseAllDocuments(await readFile(join(ROOT, 'manifests', 'base', 'deployment.yaml'), 'utf8'));
  const deployment = docs.map((d) => d.toJS() as Json).find((d) => d.kind === 'Deployment') as {
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  };
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value;
  if (!value) throw new Error('the Deployment sets no NODE_OPTIONS');
  return value;
}

const flowYaml = (bytes: number) => {
  const unit = '{a: 1, b: [x, y], c: {d: e}}, ';
  return `kind: Pod\nmetadata: {name: p, namespace: shop}\nk: [${unit.repeat(Math.floor(bytes / unit.length))}]\n`;
};
const wideMapYaml = (bytes: number) =>
  `kind: Pod\nmetadata: {name: p, namespace: shop}\n${Array.from({ length: Math.floor(bytes / 14) }, (_, i) => `k${i}: value\n`).join('')}`;

function podWithDns(field: 'nameservers' | 'searches', count: number): Json {
  return reviewIn('shop', (review) => {
    const pod = review.request.object as { spec: Json };
    const entries = Array.from({ length: count }, (_, i) =>
      field === 'nameservers' ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `s${i}.example.com`,
    );
    pod.spec.dnsConfig = { [field]: entries };
  });
}

interface Attack {
  name: string;
  path: string;
  contentType: string;
  body: string;
}

let dir: string;
let server: NodeRun;
let port: number;
let opsPort: number;
let ca: string;

beforeAll(async () => {
  requireBuilt(MAIN);
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-isolation-'));
  const tls = await writeServingFiles(dir);
  ca = tls.ca.cert;
  server = spawnNode(
    MAIN,
    [...tls.flags, '--config', EXAMPLE_CONFIG, '--namespaces', EXAMPLE_NAMESPACES, ...loopbackPorts()],
    { env: isolatedEnv({ NODE_OPTIONS: await deploymentNodeOptions() }) },
  );
  const listening = await waitForLog(server, 'listening');
  port = listening.port as number;
  opsPort = listening.opsPort as number;
}, 30_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the built server under attack, with the Deployment’s Node flags', () => {
  it('answers every ordinary review in time while /dry-run and /mutate get the worst bodies', async () => {
    expect(port).toBeGreaterThan(0);
    const tlsFor = (agent?: Agent) => ({ ca, servername: 'localhost', ...(agent ? { agent } : {}) });
    const attacks: Attack[] = [
      {
        name: '700 KB of YAML flow mappings',
        path: '/dry-run',
        contentType: 'application/yaml',
        body: flowYaml(700_000),
      },
      {
        name: '2.8 MB of YAML flow mappings',
        path: '/dry-run',
        contentType: 'application/yaml',
        body: flowYaml(2_800_000),
      },
      {
        name: 'a YAML mapping with 60k keys',
        path: '/dry-run',
        contentType: 'application/yaml',
        body: wideMapYaml(840_000),
      },
      {
        name: '2.9 MB of JSON objects',
        path: '/dry-run',
        contentType: 'application/json',
        body: JSON.stringify({
          kind: 'Pod',
          metadata: { name: 'p', namespace: 'shop' },
          k: Array(290_000).fill({ a: 1 }),
        }),
      },
      {
        name: 'a pod with 100,000 nameservers (dry-run)',
        path: '/dry-run',
        contentType: 'application/json',
        body: JSON.stringify(podWithDns('nameservers', 100_000)),
      },
      {
        name: 'a pod with 100,000 nameservers',
        path: '/mutate',
        contentType: 'application/json',
        body: JSON.stringify(podWithDns('nameservers', 100_000)),
      },
      {
        name: 'a pod with 100,000 searches',
        path: '/mutate',
        contentType: 'application/json',
        body: JSON.stringify(podWithDns('searches', 100_000)),
      },
    ];

    let attacking = true;
    const answered: Array<{ name: string; status: number }> = [];
    const attacker = async (offset: number) => {
      for (let i = offset; attacking; i++) {
        const attack = attacks[i % attacks.length] as Attack;
        const res = await httpsPost(port, attack.path, attack.body, tlsFor(), { 'content-type': attack.contentType });
        answered.push({ name: attack.name, status: res.status });
      }
    };
    const attackers = [attacker(0), attacker(3), attacker(5)];

    // The ordinary review, on its own keep-alive connection, as the apiserver sends it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const review = JSON.stringify(exampleReview());
    const latencies: number[] = [];
    const until = Date.now() + 12_000;
    while (Date.now() < until || answered.length < attacks.length) {
      const started = performance.now();
      const res = await httpsPost(port, '/mutate', review, tlsFor(agent));
      latencies.push(performance.now() - started);
      expect(res.status).toBe(200);
      expect(responseOf(res.body).patch).toBeDefined();
    }
    attacking = false;
    await Promise.all(attackers);
    agent.destroy();

    // Every attack was answered with a coded status: done (200), refused (4xx) or busy (503), never a failure.
    const statuses = new Map<string, Set<number>>();
    for (const a of answered) statuses.set(a.name, (statuses.get(a.name) ?? new Set()).add(a.status));
    for (const attack of attacks) expect(statuses.has(attack.name), attack.name).toBe(true);
    for (const a of answered) expect([200, 400, 413, 503], `${a.name}: ${a.status}`).toContain(a.status);
    // The heavy YAML never parses within the worker's budget.
    expect([...(statuses.get('700 KB of YAML flow mappings') ?? [])]).not.toContain(200);

    latencies.sort((a, b) => a - b);
    expect(latencies.length).toBeGreaterThan(20);
    expect(latencies[latencies.length - 1], `slowest of ${latencies.length} ordinary reviews`).toBeLessThan(
      APISERVER_TIMEOUT_MS / 3,
    );
    expect(server.child.exitCode).toBeNull();
    const live = await fetch(`http://127.0.0.1:${opsPort}/livez`);
    expect(live.status).toBe(200);
  }, 90_000);
});
