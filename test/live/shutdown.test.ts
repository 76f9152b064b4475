/**
 * Shutdown under load, with the built binary (`node dist/main.js`) as the kubelet runs it: reviews flow continuously
 * over several keep-alive connections, SIGTERM arrives in the middle, and
 *
 * - /readyz turns 503 at once;
 * - the clients keep sending for a while after they see it (the apiserver needs time to notice the endpoint is gone)
 *   and then stop, as an endpoint removal makes the apiserver stop; every review sent gets a 200 AdmissionReview;
 * - a review still in flight when the drain ends and the server stops accepting is answered too;
 * - the process exits 0.
 *
 * Namespaces come from the fake API server, so a review for a namespace the cache does not know costs a direct GET,
 * which the fake holds until the source's 1 s timeout: a review guaranteed to last across the moment of closing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readyz } from '../../lab/client.ts';
import { eventually } from '../../lab/eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { EXAMPLE_CONFIG } from '../../lab/paths.ts';
import {
  isolatedEnv,
  loopbackPorts,
  MAIN,
  type NodeRun,
  requireBuilt,
  spawnNode,
  waitForLog,
} from '../../lab/process.ts';
import { requestOf, responseOf, reviewIn } from '../../lab/review.ts';
import { postReview, type ReviewResult, startInProcess } from '../support/live.ts';
import { type ServingFiles, writeServingFiles } from '../support/webhook.ts';

const DRAIN_SECONDS = 2;
/** The cluster source's direct-GET timeout (its default): how long the last review stays in flight. */
const DIRECT_GET_TIMEOUT_MS = 1_000;
const WORKERS = 4;
/** How long the clients keep sending after they saw /readyz fail: well inside the drain. */
const ENDPOINT_REMOVAL_MS = 500;
/** SIGTERM once this many reviews have been answered (bounded in time too). */
const BEFORE_SIGTERM = 200;

let dir: string;
let tls: ServingFiles;
let fake: FakeKubeApi;
let child: NodeRun | undefined;

beforeAll(async () => {
  requireBuilt(MAIN);
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-shutdown-'));
  tls = await writeServingFiles(dir);
  fake = await startFakeKubeApi();
  fake.create('shop', { labels: { 'dns-tuner.io/policy': 'default' } });
});

afterAll(async () => {
  await child?.stop();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Sent {
  sentAt: number;
  doneAt: number;
  namespace: string;
  result?: ReviewResult;
  error?: string;
}

/** A review counts as answered only with a 200 AdmissionReview for the same uid. */
function failure(sent: Sent): string | undefined {
  if (sent.error) return sent.error;
  if (sent.result?.status !== 200) return `HTTP ${sent.result?.status}: ${sent.result?.body}`;
  try {
    const response = responseOf(sent.result.body);
    const uid = requestOf(reviewIn(sent.namespace)).uid;
    return response.uid === uid && response.allowed ? undefined : `bad response ${sent.result.body}`;
  } catch (error) {
    return String(error);
  }
}

async function send(port: number, namespace: string, agent: https.Agent | undefined): Promise<Sent> {
  const sentAt = Date.now();
  try {
    const result = await postReview(port, namespace, { ca: tls.ca.cert, agent });
    return { sentAt, doneAt: Date.now(), namespace, result };
  } catch (error) {
    return { sentAt, doneAt: Date.now(), namespace, error: String(error) };
  }
}

/** Resolves with the time a TCP connect to `port` is first refused. */
async function refusedAt(port: number, until: number): Promise<number | undefined> {
  while (Date.now() < until) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

describe('SIGTERM under load', () => {
  it('answers every review sent before it stopped accepting, finishes the one in flight, and exits 0', async () => {
    const proc = spawnNode(
      MAIN,
      [
        ...['--kubeconfig', fake.kubeconfigPath, '--config', EXAMPLE_CONFIG],
        ...tls.flags,
        ...loopbackPorts(DRAIN_SECONDS),
      ],
      { env: isolatedEnv({ HOME: dir }) },
    );
    child = proc;
    const listening = await waitForLog(proc, 'listening');
    const port = listening.port as number;
    const opsPort = listening.opsPort as number;
    await eventually(async () => expect((await readyz(opsPort)).status).toBe(200));

    // Load: WORKERS keep-alive connections, one review after another on each.
    const sent: Sent[] = [];
    let stopSending = false;
    const agents = Array.from({ length: WORKERS }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
    const workers = agents.map(async (agent) => {
      while (!stopSending) sent.push(await send(port, 'shop', agent));
    });
    const loadDeadline = Date.now() + 10_000;
    while (sent.length < BEFORE_SIGTERM && Date.now() < loadDeadline) await new Promise((r) => setTimeout(r, 10));

    const sigtermAt = Date.now();
    proc.child.kill('SIGTERM');
    // The clients watch /readyz, as the endpoints controller does, and stop a little after it fails.
    let notReadyAt: number | undefined;
    while (notReadyAt === undefined && Date.now() < sigtermAt + 5_000) {
      if ((await readyz(opsPort)).status === 503) notReadyAt = Date.now();
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(notReadyAt, '/readyz never turned 503').toBeDefined();
    await new Promise((r) => setTimeout(r, ENDPOINT_REMOVAL_MS));
    stopSending = true;
    await Promise.all(workers);
    for (const agent of agents) agent.destroy();

    // One last review, sent before the drain ends, for a namespace the cache lacks: its direct GET hangs until the
    // source's timeout, so it is still in flight when the server stops accepting. Sent half that timeout before the
    // end of the drain: late enough to straddle the close, early enough that a slow machine does not miss the drain.
    fake.setFault('get', 'hang');
    const sendAt = sigtermAt + DRAIN_SECONDS * 1000 - DIRECT_GET_TIMEOUT_MS / 2;
    await new Promise((r) => setTimeout(r, Math.max(0, sendAt - Date.now())));
    // Over a keep-alive connection: once answered, the server itself must close it, or closing would wait for it.
    const slowAgent = new https.Agent({ keepAlive: true });
    const slow = send(port, 'brand-new', slowAgent);
    const refused = await refusedAt(port, sigtermAt + DRAIN_SECONDS * 1000 + 5_000);
    const last = await slow;
    expect(last.result?.headers.connection).toBe('close');

    const bounded = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
    expect(await Promise.race([proc.exit, bounded])).toEqual({ code: 0, signal: null });
    slowAgent.destroy();

    const failures = [...sent, last].map(failure).filter((f) => f !== undefined);
    const duringDrain = sent.filter((s) => s.sentAt >= sigtermAt);
    const afterNotReady = sent.filter((s) => notReadyAt !== undefined && s.sentAt > notReadyAt);
    console.log(
      `shutdown: ${sent.length + 1} reviews, ${sent.filter((s) => s.sentAt < sigtermAt).length} before SIGTERM, ` +
        `${duringDrain.length} during the drain, ${failures.length} failed; /readyz 503 after ${(notReadyAt ?? 0) - sigtermAt} ms; ` +
        `in-flight review answered ${last.doneAt - (refused ?? 0)} ms after the listener closed`,
    );
    expect(failures).toEqual([]);
    expect(sent.length).toBeGreaterThanOrEqual(BEFORE_SIGTERM);
    // Served during the drain, each response telling its client to reconnect elsewhere.
    expect(duringDrain.length).toBeGreaterThan(0);
    expect(afterNotReady.length).toBeGreaterThan(0);
    for (const s of afterNotReady) expect(s.result?.headers.connection).toBe('close');
    // The listener was closed while the last review was in flight, and that review was still answered.
    expect(refused).toBeDefined();
    expect(refused).toBeLessThan(last.doneAt);
    expect(last.sentAt).toBeLessThan(refused ?? 0);
    expect(responseOf(last.result?.body ?? '').warnings?.join(' ')).toMatch(/namespace/i);
    const messages = proc.logLines().map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['shutting down', 'drain over, closing', 'stopped']));
    expect(proc.logLines().find((l) => l.msg === 'stopped')?.clean).toBe(true);
  });
});

describe('a start-up that fails half-way', () => {
  /** A port bound on 127.0.0.1 until `close()`. */
  async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  /** Whether something accepts TCP connections on 127.0.0.1:`port`. */
  function accepts(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  it('releases what it had opened: the ops server and the namespace watch', async () => {
    const taken = await holdPort();
    const free = await holdPort();
    const opsPort = free.port;
    await free.close();
    try {
      const starting = startInProcess([
        '--kubeconfig',
        fake.kubeconfigPath,
        '--config',
        EXAMPLE_CONFIG,
        ...tls.flags,
        '--port',
        String(taken.port),
        '--ops-port',
        String(opsPort),
      ]);
      await expect(starting).rejects.toThrow(
        `cannot listen on 127.0.0.1:${taken.port} (--port): address already in use`,
      );
    } finally {
      await taken.close();
    }
    expect(await accepts(opsPort)).toBe(false);
    await eventually(() => expect(fake.openConnections).toBe(0));
  });
});
