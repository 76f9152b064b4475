/**
 * Nothing sent to the webhook can stop /mutate from answering (docs/adr/0008-dry-run-cannot-hurt-mutate.md): the
 * built server runs with the Deployment's own NODE_OPTIONS (read from manifests/base/deployment.yaml, so the test
 * follows the manifest), attackers send the worst bodies we know — YAML shaped to exhaust the heap or the CPU, JSON
 * at the size limit, pods with huge DNS lists — on their own connections, and an ordinary review is sent over and over
 * on another. Every ordinary review must be answered with its patch well inside the apiserver's 3 s timeout, the
 * attacks must get coded answers (never a crash, never a 500), and the process must still be alive at the end.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentNodeOptions } from '../../lab/deployment.ts';
import {
  isolatedEnv,
  loopbackPorts,
  MAIN,
  type NodeRun,
  requireBuilt,
  spawnNode,
  waitForLog,
} from '../../lab/process.ts';
import { DRY_RUN_BODY_LIMIT } from '../../src/http/dry-run.ts';
import {
  EXAMPLE_CONFIG,
  EXAMPLE_NAMESPACES,
  exampleReview,
  httpsPost,
  type Json,
  responseOf,
  reviewIn,
  writeServingFiles,
} from '../support/webhook.ts';

/** The webhook's timeoutSeconds (manifests/base/webhook.yaml): past it the apiserver admits the pod untuned. */
const APISERVER_TIMEOUT_MS = 3_000;

const flowYaml = (bytes: number) => {
  const unit = '{a: 1, b: [x, y], c: {d: e}}, ';
  return `kind: Pod\nmetadata: {name: p, namespace: shop}\nk: [${unit.repeat(Math.floor(bytes / unit.length))}]\n`;
};
const wideMapYaml = (bytes: number) =>
  `kind: Pod\nmetadata: {name: p, namespace: shop}\n${Array.from({ length: Math.floor(bytes / 14) }, (_, i) => `k${i}: value\n`).join('')}`;

/** A long string with an anchor, aliased 99 times: 1 MB of YAML that expands to 100 MB of JSON. */
const aliasedString = (bytes: number) =>
  `kind: Pod\nmetadata: {name: p, namespace: shop}\nx: &s "${'a'.repeat(bytes)}"\nk: [${Array(99).fill('*s').join(', ')}]\n`;
/** 2.9 MB of base64 that the YAML 1.1 `!!binary` tag turns into bytes (each one a JSON key once serialised). */
const binaryYaml = (bytes: number) =>
  `kind: Pod\nmetadata: {name: p, namespace: shop}\nb: !!binary ${Buffer.alloc(Math.floor((bytes * 3) / 4), 7).toString('base64')}\n`;

function podWithMap(field: 'annotations' | 'labels', count: number): Json {
  return reviewIn('shop', (review) => {
    const map: Record<string, string> = {};
    for (let i = 0; i < count; i++) map[`k${i}`] = 'v';
    (review.request.object as { metadata: Json }).metadata[field] = map;
  });
}

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
    { env: isolatedEnv({ NODE_OPTIONS: deploymentNodeOptions() }) },
  );
  const listening = await waitForLog(server, 'listening');
  port = listening.port as number;
  opsPort = listening.opsPort as number;
}, 30_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every attack body, built once. */
const DRY_RUN_ATTACKS: Attack[] = [
  { name: '700 KB of YAML flow mappings', path: '/dry-run', contentType: 'application/yaml', body: flowYaml(700_000) },
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
    body: JSON.stringify({ kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, k: Array(290_000).fill({ a: 1 }) }),
  },
  {
    name: 'a 1 MB YAML string aliased 99 times',
    path: '/dry-run',
    contentType: 'application/yaml',
    body: aliasedString(1_000_000),
  },
  { name: '2.9 MB of YAML !!binary', path: '/dry-run', contentType: 'application/yaml', body: binaryYaml(2_900_000) },
  {
    name: 'a 1 MiB pod with 70k labels (dry-run)',
    path: '/dry-run',
    contentType: 'application/json',
    body: JSON.stringify(podWithMap('labels', 70_000)),
  },
  {
    name: 'a pod with 100,000 nameservers (dry-run)',
    path: '/dry-run',
    contentType: 'application/json',
    body: JSON.stringify(podWithDns('nameservers', 100_000)),
  },
];

const MUTATE_ATTACKS: Attack[] = [
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

/** A 2.7 MB review: V8 alone takes a few hundred ms to parse it, on the thread every review shares. */
const HUGE_MAP_ATTACK: Attack = {
  name: 'a 2.7 MB pod with 200k annotations',
  path: '/mutate',
  contentType: 'application/json',
  body: JSON.stringify(podWithMap('annotations', 200_000)),
};

interface Siege {
  /** Every attack's answers, by name. */
  statuses: Map<string, Set<number>>;
  /** The ordinary reviews' latencies, ms, sorted. */
  latencies: number[];
}

/**
 * Three attackers cycle through `attacks` on their own connections for `ms`, while an ordinary review is sent over
 * and over on a keep-alive connection of its own, as the apiserver sends it; each must be answered with its patch.
 */
async function siege(attacks: readonly Attack[], ms: number): Promise<Siege> {
  const tls = (agent?: Agent) => ({ ca, servername: 'localhost', ...(agent ? { agent } : {}) });
  let attacking = true;
  const statuses = new Map<string, Set<number>>();
  const answered = (name: string, status: number) => statuses.set(name, (statuses.get(name) ?? new Set()).add(status));
  const attacker = async (offset: number) => {
    for (let i = offset; attacking; i++) {
      const attack = attacks[i % attacks.length] as Attack;
      try {
        const res = await httpsPost(port, attack.path, attack.body, tls(), { 'content-type': attack.contentType });
        answered(attack.name, res.status);
      } catch (error) {
        // A body over the route's limit may be answered 413 and the connection closed while it is still being sent.
        const overLimit = attack.path === '/dry-run' && Buffer.byteLength(attack.body) > DRY_RUN_BODY_LIMIT;
        if (!overLimit) throw error;
        answered(attack.name, 413);
      }
    }
  };
  const attackers = [0, 1, 2].map((k) => attacker(Math.floor((k * attacks.length) / 3)));

  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const review = JSON.stringify(exampleReview());
  const latencies: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until || statuses.size < attacks.length) {
    const started = performance.now();
    const res = await httpsPost(port, '/mutate', review, tls(agent));
    latencies.push(performance.now() - started);
    expect(res.status).toBe(200);
    expect(responseOf(res.body).patch).toBeDefined();
  }
  attacking = false;
  await Promise.all(attackers);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { statuses, latencies };
}

/** Every attack was answered with a coded status: done (200), refused (4xx) or busy (503), never a failure. */
function expectCodedAnswers(result: Siege, attacks: readonly Attack[]): void {
  for (const attack of attacks) {
    const seen = [...(result.statuses.get(attack.name) ?? [])];
    expect(seen.length, attack.name).toBeGreaterThan(0);
    for (const status of seen) expect([200, 400, 413, 503], `${attack.name}: ${status}`).toContain(status);
  }
}

async function expectAlive(): Promise<void> {
  expect(server.child.exitCode).toBeNull();
  expect((await fetch(`http://127.0.0.1:${opsPort}/livez`)).status).toBe(200);
}

describe('the built server under attack, with the Deployment’s Node flags', () => {
  it('answers every ordinary review within half the apiserver timeout while /dry-run and /mutate get the worst bodies', async () => {
    const attacks = [...DRY_RUN_ATTACKS, ...MUTATE_ATTACKS];
    const result = await siege(attacks, 12_000);
    expectCodedAnswers(result, attacks);
    // The heavy YAML never parses within the worker's budget, nor expands past 3 MiB of JSON.
    for (const name of [
      '700 KB of YAML flow mappings',
      'a 1 MB YAML string aliased 99 times',
      '2.9 MB of YAML !!binary',
    ]) {
      expect([...(result.statuses.get(name) ?? [])], name).not.toContain(200);
    }
    expect(result.latencies.length).toBeGreaterThan(20);
    const slowest = result.latencies[result.latencies.length - 1];
    expect(slowest, `slowest of ${result.latencies.length} ordinary reviews`).toBeLessThan(APISERVER_TIMEOUT_MS / 2);
    await expectAlive();
  }, 90_000);

  it('answers ordinary reviews inside the apiserver’s timeout while 2.7 MB reviews arrive back to back', async () => {
    // What any pod creator can send through the apiserver (mutating admission runs before validation): linear in its
    // size, skipped as invalid-pod, and bounded in number by the bytes-in-flight budget.
    const result = await siege([HUGE_MAP_ATTACK], 8_000);
    expectCodedAnswers(result, [HUGE_MAP_ATTACK]);
    const slowest = result.latencies[result.latencies.length - 1];
    expect(slowest, `slowest of ${result.latencies.length} ordinary reviews`).toBeLessThan(APISERVER_TIMEOUT_MS);
    await expectAlive();
  }, 60_000);
});
