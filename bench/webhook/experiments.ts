/**
 * The three experiments of the webhook benchmark, each a table of A/B cells: every pod size at every concurrency
 * (ours and the limit), the typical pod with more and more containers, and ours with more and more namespaces cached.
 */
import type { Pem } from '../../lab/pki.ts';
import { LARGE_POD_BYTES, largeReview, podReview, reviewBytes, SMALL, TYPICAL } from '../fixtures.ts';
import { defaultPolicyNamespaces, namespaceName } from '../memory-source.ts';
import { mib } from '../report.ts';
import type { Usage } from '../server.ts';
import type { Flags, PodName } from './flags.ts';
import type { LoadGenerator } from './load.ts';
import { abRounds, progress, type Summary, summarize } from './rounds.ts';
import type { BenchServer, ChildServers } from './servers.ts';

/** Namespaces cached by ours in the main table and the pod-size table. */
export const MAIN_NAMESPACES = 10_000;
const POD_SIZES = [1, 5, 10, 25, 50];
const NAMESPACE_COUNTS = [10, 1_000, 10_000, 100_000];
/** Reviews in the namespace-count runs are spread over this many namespaces of the cache. */
export const SPREAD = 32;

/** What every experiment runs with: the flags, the load generator and the child servers. */
export interface Bench {
  flags: Flags;
  load: LoadGenerator;
  servers: ChildServers;
}

export interface Cell {
  pod: PodName;
  bytes: number;
  connections: number;
  ours: Summary;
  limit: Summary;
}

async function mainTable(
  { flags, load }: Bench,
  ours: BenchServer,
  limit: BenchServer,
  pods: Array<{ name: PodName; body: Buffer }>,
): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const pod of pods) {
    const answer = await load.preflight(ours, pod.body, true);
    await load.preflight(limit, pod.body, false);
    const setAnswer = () => limit.respond(answer);
    for (const connections of flags.concurrency) {
      const [o, l] = await abRounds(
        pod.name,
        [
          { server: ours, bodies: [pod.body] },
          { server: limit, bodies: [pod.body], prepare: setAnswer },
        ],
        connections,
        flags,
        load,
      );
      cells.push({ pod: pod.name, bytes: pod.body.length, connections, ours: summarize(o!), limit: summarize(l!) });
    }
  }
  return cells;
}

export interface SizeRow {
  containers: number;
  bytes: number;
  ours: Summary;
  limit: Summary;
}

async function podSizeTable({ flags, load }: Bench, ours: BenchServer, limit: BenchServer): Promise<SizeRow[]> {
  const rows: SizeRow[] = [];
  const [namespace] = defaultPolicyNamespaces(MAIN_NAMESPACES, 1);
  for (const containers of POD_SIZES) {
    const body = reviewBytes(podReview({ ...TYPICAL, containers }, { namespace: namespace! }));
    const answer = await load.preflight(ours, body, true);
    const [o, l] = await abRounds(
      `${containers} containers`,
      [
        { server: ours, bodies: [body] },
        { server: limit, bodies: [body], prepare: () => limit.respond(answer) },
      ],
      1,
      flags,
      load,
    );
    rows.push({ containers, bytes: body.length, ours: summarize(o!), limit: summarize(l!) });
  }
  return rows;
}

export interface NamespaceRow {
  namespaces: number;
  idleRss: number;
  idleHeap: number;
  ours: Summary;
}

export async function namespaceTable({ flags, load, servers }: Bench, pem: Pem): Promise<NamespaceRow[]> {
  const contenders: Array<{ count: number; server: BenchServer; bodies: Buffer[]; idle: Usage }> = [];
  try {
    for (const count of NAMESPACE_COUNTS) {
      const server = await servers.start('ours', pem, count);
      const idle = await server.usage(true);
      const bodies = defaultPolicyNamespaces(count, SPREAD).map((namespace, i) =>
        reviewBytes(podReview(TYPICAL, { namespace, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` })),
      );
      await load.preflight(server, bodies[0]!, true);
      contenders.push({ count, server, bodies, idle });
      progress(`${count} namespaces: idle RSS ${mib(idle.rss)} MiB, heap ${mib(idle.heapUsed)} MiB`);
    }
    const samples = await abRounds('namespaces', contenders, 1, flags, load);
    return contenders.map((c, i) => ({
      namespaces: c.count,
      idleRss: c.idle.rss,
      idleHeap: c.idle.heapUsed,
      ours: summarize(samples[i]!),
    }));
  } finally {
    for (const c of contenders) await servers.stop(c.server);
  }
}

/**
 * The main table (every pod of `pods` at every concurrency) and, when asked, the pod-size table: ours with
 * MAIN_NAMESPACES cached and the limit, one pair of servers for both. Also ours' idle memory after a full GC.
 */
export async function oursAndLimitTables(
  bench: Bench,
  pem: Pem,
  pods: readonly PodName[],
): Promise<{ cells: Cell[]; sizes: SizeRow[]; oursIdle: Usage }> {
  const { flags, servers } = bench;
  const ours = await servers.start('ours', pem, MAIN_NAMESPACES);
  const limit = await servers.start('limit', pem);
  const oursIdle = await ours.usage(true);
  try {
    const [namespace] = defaultPolicyNamespaces(MAIN_NAMESPACES, 1);
    const review = { namespace: namespace ?? namespaceName(2) };
    const bodies: Record<PodName, () => Buffer> = {
      small: () => reviewBytes(podReview(SMALL, review)),
      typical: () => reviewBytes(podReview(TYPICAL, review)),
      large: () => reviewBytes(largeReview(review, LARGE_POD_BYTES)),
    };
    const measured = pods.map((name) => ({ name, body: bodies[name]() }));
    const cells = measured.length > 0 ? await mainTable(bench, ours, limit, measured) : [];
    const sizes = flags.only.has('pod-size') ? await podSizeTable(bench, ours, limit) : [];
    return { cells, sizes, oursIdle };
  } finally {
    await servers.stop(ours);
    await servers.stop(limit);
  }
}
