/**
 * The experiments of the webhook benchmark, each a table of A/B cells: every pod size at every concurrency (dns-tuner,
 * the job limit, the bare limit, and a baseline build when asked), the typical pod with more and more containers,
 * and dns-tuner watching more and more namespaces.
 */
import type { FakeKubeApi } from '../../lab/fake-kube-api.ts';
import { LARGE_POD_BYTES, largeReview, podReview, reviewBytes, SMALL, TYPICAL } from '../../lab/pod-reviews.ts';
import { defaultPolicyNamespaces } from '../namespaces.ts';
import { mib } from '../report.ts';
import { startCluster } from './cluster.ts';
import type { Flags, PodName } from './flags.ts';
import type { LoadGenerator } from './load.ts';
import { abRounds, type Contender, progress, type Summary, summarize } from './rounds.ts';
import { type BenchServer, exampleConfigOf, type Servers } from './servers.ts';

/** Namespaces in the cluster (and the job limit's map) for the main table and the pod-size table. */
export const MAIN_NAMESPACES = 10_000;
const POD_SIZES = [1, 5, 10, 25, 50];
const NAMESPACE_COUNTS = [10, 1_000, 10_000, 100_000];
/** Reviews in the namespace-count runs are spread over this many namespaces of the cache. */
export const SPREAD = 32;
/** After the namespace cache has synced: start-up garbage collected, timers settled. */
const SETTLE_MS = 3_000;
/**
 * Load before a server's first measurement with a pod shape: a fresh dns-tuner needs ~4 s of reviews before its CPU
 * per review settles (optimised code, the start-up heap collected: 267 → 170 µs for the small pod), and a webhook
 * runs for days. Measuring the first seconds would charge start-up to every review.
 */
export const PRIME_SECONDS = 5;

/** What every experiment runs with: the flags, the load generator and the servers. */
export interface Bench {
  flags: Flags;
  load: LoadGenerator;
  servers: Servers;
}

export interface Cell {
  pod: PodName;
  bytes: number;
  connections: number;
  ours: Summary;
  job: Summary;
  bare: Summary;
  baseline: Summary | undefined;
}

export interface SizeRow {
  containers: number;
  bytes: number;
  ours: Summary;
  job: Summary;
}

export interface Memory {
  /** RSS once the namespace cache has synced and settled, before any review. */
  idle: number;
  /**
   * The peak RSS (VmHWM, start-up included) of the fresh process after typical reviews at c=32 only, before any other
   * cell: what the goal asks. Later cells (c=100, 1.5 MiB pods) raise RSS for the rest of the process's life.
   */
  peakTypical32: number | undefined;
}

/** dns-tuner and the job limit at the same pace: CPU per review when neither sets the pace for the client. */
export interface EqualLoadRow {
  pod: PodName;
  bytes: number;
  connections: number;
  rate: number;
  ours: Summary;
  job: Summary;
}

export interface MainResults {
  cells: Cell[];
  equalLoad: EqualLoadRow[];
  sizes: SizeRow[];
  memory: { ours: Memory; job: Memory; baseline: Memory | undefined };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** dns-tuner (this checkout's build, or `ref`'s) watching `cluster`. */
function startOurs(servers: Servers, cluster: FakeKubeApi, ref?: string): Promise<BenchServer> {
  const main = servers.main(ref);
  return servers.startOurs({
    main,
    build: ref === undefined ? '' : `@${ref}`,
    kubeconfig: cluster.kubeconfigPath,
    config: exampleConfigOf(main),
  });
}

/**
 * dns-tuner's answer to `body`, checked: the job limit must answer the very same bytes (it does the same job), and
 * the bare limit is set to answer them too.
 */
async function sameAnswers(
  load: LoadGenerator,
  body: Buffer,
  ours: BenchServer,
  job: BenchServer,
  bare: BenchServer,
  baseline: BenchServer | undefined,
): Promise<void> {
  const answer = await load.preflight(ours, body, true);
  const jobAnswer = await load.preflight(job, body, true);
  if (jobAnswer !== answer) {
    throw new Error(`the job limit answers differently from dns-tuner:\n  ours ${answer}\n  job  ${jobAnswer}`);
  }
  if (baseline) await load.preflight(baseline, body, true);
  await bare.respond(answer);
}

export async function mainTables(bench: Bench, pods: readonly PodName[]): Promise<MainResults> {
  const { flags, servers, load } = bench;
  const cluster = await startCluster(MAIN_NAMESPACES);
  const started: BenchServer[] = [];
  try {
    const ours = await startOurs(servers, cluster, flags.ours);
    started.push(ours);
    const baseline = flags.baseline === undefined ? undefined : await startOurs(servers, cluster, flags.baseline);
    if (baseline) started.push(baseline);
    const job = await servers.startLimit('job', MAIN_NAMESPACES);
    const bare = await servers.startLimit('bare', 0);
    started.push(job, bare);
    await sleep(SETTLE_MS);
    const idle = (s: BenchServer | undefined) => s?.usage().rss ?? 0;
    const memory: MainResults['memory'] = {
      ours: { idle: idle(ours), peakTypical32: undefined },
      job: { idle: idle(job), peakTypical32: undefined },
      baseline: baseline ? { idle: idle(baseline), peakTypical32: undefined } : undefined,
    };
    progress(`idle RSS: ${started.map((s) => `${s.label} ${mib(s.usage().rss)} MiB`).join(', ')}`);

    const [namespace] = defaultPolicyNamespaces(MAIN_NAMESPACES, 1);
    const review = { namespace: namespace! };
    const bodies: Record<PodName, () => Buffer> = {
      small: () => reviewBytes(podReview(SMALL, review)),
      typical: () => reviewBytes(podReview(TYPICAL, review)),
      large: () => reviewBytes(largeReview(review, LARGE_POD_BYTES)),
    };

    // The memory goal first, on the fresh processes: typical reviews at c=32 for as long as a cell takes.
    const typical = bodies.typical();
    await sameAnswers(load, typical, ours, job, bare, baseline);
    for (const [server, into] of [
      [ours, memory.ours],
      [job, memory.job],
      ...(baseline && memory.baseline ? [[baseline, memory.baseline] as const] : []),
    ] as const) {
      await load.warm(server, [typical], 32, flags.warmup);
      await load.load(server, [typical], 32, flags.duration * flags.rounds);
      into.peakTypical32 = server.usage().hwm;
    }
    progress(
      `peak RSS after typical reviews at c=32: ${started.map((s) => `${s.label} ${mib(s.usage().hwm)} MiB`).join(', ')}`,
    );

    const cells: Cell[] = [];
    const equalLoad: EqualLoadRow[] = [];
    for (const pod of pods) {
      const body = bodies[pod]();
      await sameAnswers(load, body, ours, job, bare, baseline);
      for (const server of started) await load.warm(server, [body], 32, Math.min(PRIME_SECONDS, flags.duration * 2));
      for (const connections of flags.concurrency) {
        const contenders: Contender[] = [
          { server: ours, bodies: [body] },
          { server: job, bodies: [body] },
          { server: bare, bodies: [body] },
          ...(baseline ? [{ server: baseline, bodies: [body] }] : []),
        ];
        const samples = await abRounds(pod, contenders, connections, flags, load);
        cells.push({
          pod,
          bytes: body.length,
          connections,
          ours: summarize(samples[0]!),
          job: summarize(samples[1]!),
          bare: summarize(samples[2]!),
          baseline: baseline ? summarize(samples[3]!) : undefined,
        });
      }
      // The same pace for both (60 % of what dns-tuner sustained at the highest concurrency): a server that answers
      // faster keeps the client busier and so pays fewer wake-ups per answer; at one pace the CPU per review compares
      // the work alone.
      const fastest = cells.filter((c) => c.pod === pod).at(-1);
      if (fastest && pod !== 'large') {
        const connections = Math.min(32, fastest.connections);
        const rate = Math.max(1, Math.round(fastest.ours.rps * 0.6));
        const contenders: Contender[] = [
          { server: ours, bodies: [body] },
          { server: job, bodies: [body] },
        ];
        const [o, j] = await abRounds(`${pod} equal load`, contenders, connections, flags, load, rate);
        equalLoad.push({ pod, bytes: body.length, connections, rate, ours: summarize(o!), job: summarize(j!) });
      }
    }

    const sizes: SizeRow[] = [];
    if (flags.only.has('pod-size')) {
      for (const containers of POD_SIZES) {
        const body = reviewBytes(podReview({ ...TYPICAL, containers }, review));
        await sameAnswers(load, body, ours, job, bare, undefined);
        const contenders = [
          { server: ours, bodies: [body] },
          { server: job, bodies: [body] },
        ];
        const [o, j] = await abRounds(`${containers} containers`, contenders, 1, flags, load);
        sizes.push({ containers, bytes: body.length, ours: summarize(o!), job: summarize(j!) });
      }
    }
    return { cells, equalLoad, sizes, memory };
  } finally {
    for (const server of started) await servers.stop(server);
    await cluster.close();
  }
}

export interface NamespaceRow {
  namespaces: number;
  idleRss: number;
  ours: Summary;
}

/** dns-tuner watching 10 … 100,000 namespaces (a cluster and a server for each), reviews spread over the cache. */
export async function namespaceTable({ flags, load, servers }: Bench): Promise<NamespaceRow[]> {
  const contenders: Array<{ count: number; cluster: FakeKubeApi; server: BenchServer; bodies: Buffer[] }> = [];
  try {
    for (const count of NAMESPACE_COUNTS) {
      const cluster = await startCluster(count);
      const server = await startOurs(servers, cluster).catch(async (error: unknown) => {
        await cluster.close();
        throw error;
      });
      const bodies = defaultPolicyNamespaces(count, SPREAD).map((namespace, i) =>
        reviewBytes(podReview(TYPICAL, { namespace, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` })),
      );
      await load.preflight(server, bodies[0]!, true);
      contenders.push({ count, cluster, server, bodies });
    }
    await sleep(SETTLE_MS);
    const idle = contenders.map((c) => c.server.usage().rss);
    progress(`idle RSS: ${contenders.map((c, i) => `${c.count} namespaces ${mib(idle[i]!)} MiB`).join(', ')}`);
    const samples = await abRounds('namespaces', contenders, 1, flags, load);
    return contenders.map((c, i) => ({ namespaces: c.count, idleRss: idle[i]!, ours: summarize(samples[i]!) }));
  } finally {
    for (const c of contenders) {
      await servers.stop(c.server);
      await c.cluster.close();
    }
  }
}
