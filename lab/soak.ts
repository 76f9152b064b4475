/**
 * The soak: dns-tuner under continuous review load while everything around it changes, as in a cluster over days.
 * Shared by the short in-suite version (test/hardening/soak.test.ts) and the long one (bench/soak.ts, `npm run soak`).
 *
 * dns-tuner runs against the fake API server (namespaces from list+watch, test/support/fake-kube-api.ts), with its
 * config and certificate in directories written like a ConfigMap and a Secret volume (`..data` symlink swaps,
 * ./volume.ts). Several keep-alive clients post reviews back to back over HTTPS, trusting only the test CA
 * and checking the certificate against `dns-tuner.dns-tuner.svc` as the apiserver does. Meanwhile a cycle of changes
 * repeats until the time is up:
 *
 *   rotate the certificate → valid config edit → new labelled namespace → relabel it → expired watch → invalid config
 *   edit → rotate again → dropped watch → label/unlabel an existing namespace → delete the new namespace
 *
 * and after each change the soak waits (bounded) until reviews show it took effect (or, for the invalid config, that
 * it was rejected and the last good one stayed). Finally the server is stopped the way the kubelet stops it (SIGTERM
 * for a child process, `stop(drain)` in-process): the clients keep sending until a little after /readyz fails, then
 * stop, as the apiserver does once the endpoint is gone.
 *
 * Every review must get a 200 with a well-formed AdmissionReview echoing its uid. The resident set size of the server
 * process is sampled throughout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import v8 from 'node:v8';
import vm from 'node:vm';
import jsonpatch from 'fast-json-patch';
import { pino } from 'pino';
import { metricValue, readyz, scrape } from './client.ts';
// The one import of test/ from lab/, until fake-kube-api.ts moves here (it is being rewritten on another branch).
import { seedClusterDns } from './cluster-dns.ts';
import { eventually } from './eventually.ts';
import { type FakeKubeApi, startFakeKubeApi } from './fake-kube-api.ts';
import { startApp } from './in-process.ts';
import { ROOT, SERVICE_NAME } from './paths.ts';
import { type Ca, makeCa, makeServingCert, type Pem } from './pki.ts';
import { isolatedEnv, loopbackPorts, MAIN, requireBuilt } from './process.ts';
import { decodePatch, type Json, requestOf, responseOf, reviewIn } from './review.ts';
import { median } from './stats.ts';
import { type AtomicVolume, atomicVolume } from './volume.ts';

const POLICY_LABEL = 'dns-tuner.io/policy';
const MIB = 1024 * 1024;

export interface SoakOptions {
  /** Changes keep cycling until this much time has passed and `minCycles` cycles ran. */
  durationMs: number;
  minCycles?: number | undefined;
  /** Keep-alive clients, each sending one review after the other. */
  clients: number;
  /** Pause after each change has taken effect. */
  stepPauseMs: number;
  /** How often the server's RSS is sampled. */
  sampleEveryMs: number;
  /** `in-process`: `startServer()` in this process; `child`: `node dist/main.js` (needs `npm run build`). */
  server: 'in-process' | 'child';
  drainSeconds: number;
  /** Bound on each wait for a change to show in reviews. */
  settleTimeoutMs: number;
  /** How long the clients keep sending after /readyz turned 503 (the apiserver noticing the endpoint is gone). */
  endpointRemovalMs: number;
  /** Progress lines (the long soak prints them). */
  progress?: ((line: string) => void) | undefined;
}

export interface RssSample {
  atMs: number;
  rss: number;
  heapUsed?: number | undefined;
}

export interface SoakResult {
  options: SoakOptions;
  elapsedMs: number;
  reviews: number;
  /** Reviews that did not get a 200 AdmissionReview echoing their uid (transport errors included). */
  failures: number;
  /** The first few failures, for the report. */
  failureSamples: string[];
  /** Changes that did not show in reviews within the bound, counts that do not add up. */
  problems: string[];
  cycles: number;
  changes: {
    certRotations: number;
    configValid: number;
    configInvalid: number;
    namespacesCreated: number;
    relabels: number;
    namespacesDeleted: number;
    expiredWatches: number;
    droppedWatches: number;
  };
  /** From the server's /metrics just before the stop. */
  metrics: {
    configReloads: { ok: number; failed: number };
    certificateReloads: { ok: number; failed: number };
    relists: Record<string, number>;
    watchRestarts: Record<string, number>;
  };
  latencyMs: { p50: number; p99: number; max: number };
  rss: {
    samples: RssSample[];
    min: number;
    median: number;
    max: number;
    firstThirdMedian: number;
    lastThirdMedian: number;
  };
  stop: {
    /** In-process: stop() resolved true. Child: exit code 0. */
    clean: boolean;
    exitCode?: number | null | undefined;
    /** Reviews sent after SIGTERM / stop(), all of which must have been answered. */
    reviewsDuringDrain: number;
    notReadyAfterMs: number | undefined;
  };
  /** What the server logged: `review` lines, and warnings/errors by message. */
  serverLog: { reviews: number; warnings: Record<string, number> };
  /**
   * In-process only: the V8 heap in use after a full GC at the end of each cycle (bytes). Unlike RSS, which follows
   * V8's heap sizing and the allocator's arenas, this grows only with what is still referenced: a leak.
   */
  heapAfterGc: number[];
  /** The longest time each kind of change took to show in reviews (ms), longest first. */
  slowestSettleMs: Record<string, number>;
}

/** The policy config as the soak edits it: `default` with the given ndots, and `options-only`. */
function configText(ndots: number, note: string): string {
  return `# ${note}
clusterDomain: cluster.local
clusterDNS: 10.96.0.10
nodeLocalDNS: 169.254.20.10
mode: enforce
policies:
  default:
    ndots: ${ndots}
    options: [single-request-reopen, "timeout:1", "attempts:2"]
    nodeLocal: true
    fallback: true
  options-only:
    options: [single-request-reopen, "timeout:2", "attempts:3"]
    nodeLocal: false
`;
}

// ---------------------------------------------------------------------------------------------------------------
// The server under test: in-process or a child process, behind one small interface.

interface Server {
  port: number;
  opsPort: number;
  /** Resident set size of the server process (bytes) and, where cheap, its V8 heap in use. */
  sample(): Promise<Omit<RssSample, 'atMs'> | undefined>;
  /** In-process only: the V8 heap in use right after a full garbage collection (bytes). */
  heapAfterGc?: (() => number) | undefined;
  /** Starts the kubelet-style stop; resolves when the server is gone. */
  stop(drainSeconds: number): Promise<{ clean: boolean; exitCode?: number | null }>;
  /** Last-resort cleanup (idempotent). */
  kill(): Promise<void>;
}

interface ServerFiles {
  kubeconfig: string;
  config: string;
  cert: string;
  key: string;
}

async function startServer(
  kind: SoakOptions['server'],
  files: ServerFiles,
  drainSeconds: number,
  logs: LogTally,
): Promise<Server> {
  const args = ['--kubeconfig', files.kubeconfig, '--config', files.config];
  args.push('--tls-cert', files.cert, '--tls-key', files.key);
  return kind === 'in-process' ? startInProcessServer(args, logs) : startChildServer(args, drainSeconds, logs);
}

/**
 * Counts the server's JSON log lines by message, for warnings and errors only (level >= 40), and the `review` lines;
 * keeps nothing else, so memory stays flat however long the soak runs.
 */
class LogTally {
  readonly warnings = new Map<string, number>();
  reviewLines = 0;
  private partial = '';

  feed(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('"msg":"review"')) {
        this.reviewLines++;
        continue;
      }
      const level = Number(/"level":(\d+)/.exec(line)?.[1]);
      if (!(level >= 40)) continue;
      const msg = /"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line.slice(0, 80);
      this.warnings.set(msg, (this.warnings.get(msg) ?? 0) + 1);
    }
  }

  stream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.feed(chunk.toString());
        done();
      },
    });
  }
}

async function startInProcessServer(args: string[], logs: LogTally): Promise<Server> {
  // Not a logger that keeps every line (test/support/live.ts): a soak logs every review.
  const app = await startApp(args, { logger: pino({ level: 'info' }, logs.stream()) });
  await app.synced;
  let stopped: Promise<boolean> | undefined;
  return {
    port: app.webhookPort,
    opsPort: app.opsPort,
    // In-process the server shares its process with the clients and the fake API server: this is their RSS too.
    sample: async () => {
      const usage = process.memoryUsage();
      return { rss: usage.rss, heapUsed: usage.heapUsed };
    },
    heapAfterGc: () => {
      const gc = fullGc();
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    },
    stop: async (drainSeconds) => {
      stopped ??= app.stop(drainSeconds);
      return { clean: await stopped };
    },
    kill: async () => {
      stopped ??= app.stop(0);
      await stopped;
    },
  };
}

async function startChildServer(args: string[], drainSeconds: number, logs: LogTally): Promise<Server> {
  requireBuilt(MAIN);
  const home = await mkdtemp(join(tmpdir(), 'dns-tuner-soak-home-'));
  // Not spawnNode (./process.ts): it keeps all of stdout, and a long soak logs every review.
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, ...args, ...loopbackPorts(drainSeconds), '--log-level', 'info'],
    { cwd: ROOT, env: isolatedEnv({ HOME: home }), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
    await rm(home, { recursive: true, force: true });
  };
  // The listening line gives the ports; after it, stdout is only tallied (a long soak logs every review).
  const listening = await new Promise<Json>((resolve, reject) => {
    let buffer = '';
    const done = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.off('data', onData);
      child.stdout?.on('data', (c: Buffer) => logs.feed(c.toString()));
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`dns-tuner exited ${code} before listening: ${stderr}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`dns-tuner did not start within 15 s: ${stderr}`));
    }, 15_000);
    const onData = (c: Buffer) => {
      buffer += c.toString();
      for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        logs.feed(`${line}\n`);
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Json;
        if (parsed.msg === 'listening') {
          done();
          logs.feed(buffer);
          resolve(parsed);
          return;
        }
      }
    };
    child.once('exit', onExit);
    child.stdout?.on('data', onData);
  }).catch(async (error: unknown) => {
    await cleanup();
    throw error;
  });
  const port = listening.port as number;
  const opsPort = listening.opsPort as number;
  return {
    port,
    opsPort,
    sample: async () => {
      const pid = child.pid;
      if (pid === undefined || child.exitCode !== null) return undefined;
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
        if (!Number.isFinite(kb)) return undefined;
        let heapUsed: number | undefined;
        try {
          heapUsed = metricValue(await scrape(opsPort), 'nodejs_heap_size_used_bytes');
        } catch {
          heapUsed = undefined;
        }
        return { rss: kb * 1024, heapUsed };
      } catch {
        return undefined;
      }
    },
    stop: async () => {
      child.kill('SIGTERM');
      const bounded = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), (drainSeconds + 20) * 1000).unref(),
      );
      const code = await Promise.race([exit, bounded]);
      if (code === 'timeout') {
        await cleanup();
        return { clean: false, exitCode: undefined };
      }
      await rm(home, { recursive: true, force: true });
      return { clean: code === 0, exitCode: code };
    },
    kill: cleanup,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reviews

interface Answer {
  /** Undefined when the review got its 200 AdmissionReview echoing the uid. */
  failure?: string | undefined;
  /** The pod spec after the response's patch. */
  spec?: Json | undefined;
  patched: boolean;
  /** Fingerprint of the certificate the server presented. */
  fingerprint?: string | undefined;
}

const templates = new Map<string, Json>();

/** The example review moved to `namespace`, read from disk once per namespace. */
function templateIn(namespace: string): Json {
  let template = templates.get(namespace);
  if (template === undefined) {
    template = reviewIn(namespace);
    if (templates.size > 100) templates.clear();
    templates.set(namespace, template);
  }
  return template;
}

/** Posts one review of the example pod in `namespace` with a fresh uid and checks the answer's envelope. */
function review(port: number, namespace: string, ca: string, agent: https.Agent | false): Promise<Answer> {
  const uid = randomUUID();
  const sent = structuredClone(templateIn(namespace));
  (sent.request as Json).uid = uid;
  const body = JSON.stringify(sent);
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        servername: SERVICE_NAME,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        timeout: 10_000,
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (error) => resolve({ failure: `response: ${error.message}`, patched: false }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) {
            resolve({ failure: `HTTP ${res.statusCode}: ${text.slice(0, 200)}`, patched: false, fingerprint });
            return;
          }
          try {
            const response = responseOf(text);
            if (response.uid !== uid) throw new Error(`uid ${response.uid} instead of ${uid}`);
            if (response.allowed !== true) throw new Error('not allowed');
            const pod = structuredClone(requestOf(sent).object);
            if (response.patch === undefined) {
              if (response.patchType !== undefined) throw new Error('patchType without a patch');
              resolve({ spec: pod.spec as Json, patched: false, fingerprint });
              return;
            }
            if (response.patchType !== 'JSONPatch') throw new Error(`patchType ${response.patchType}`);
            const after = jsonpatch.applyPatch(pod, decodePatch(response), true, false).newDocument as Json;
            resolve({ spec: after.spec as Json, patched: true, fingerprint });
          } catch (error) {
            resolve({ failure: `bad AdmissionReview: ${String(error)}: ${text.slice(0, 200)}`, patched: false });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 10 s')));
    req.on('error', (error) => resolve({ failure: `request: ${error.message}`, patched: false }));
    req.end(body);
  });
}

function optionOf(spec: Json | undefined, name: string): string | undefined {
  const options = (spec?.dnsConfig as { options?: Array<{ name: string; value?: string }> } | undefined)?.options;
  return options?.find((o) => o.name === name)?.value;
}

/** A fixed-size uniform sample of latencies (reservoir sampling): bounded memory however long the soak runs. */
class Reservoir {
  private readonly values = new Float64Array(8192);
  private seen = 0;
  add(value: number): void {
    if (this.seen < this.values.length) this.values[this.seen] = value;
    else {
      const j = Math.floor(Math.random() * (this.seen + 1));
      if (j < this.values.length) this.values[j] = value;
    }
    this.seen++;
  }
  quantile(q: number): number {
    const n = Math.min(this.seen, this.values.length);
    if (n === 0) return Number.NaN;
    const sorted = this.values.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  }
}

// ---------------------------------------------------------------------------------------------------------------

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const progress = options.progress ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'dns-tuner-soak-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => rm(dir, { recursive: true, force: true })];
  try {
    return await soak(options, dir, cleanups, progress);
  } finally {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep cleaning up.
      }
    }
  }
}

async function soak(
  options: SoakOptions,
  dir: string,
  cleanups: Array<() => Promise<unknown> | unknown>,
  progress: (line: string) => void,
): Promise<SoakResult> {
  const ca: Ca = await makeCa({ commonName: 'dns-tuner soak CA' });
  const serving = () => makeServingCert(ca, { hosts: [SERVICE_NAME, `${SERVICE_NAME}.cluster.local`], days: 30 });
  const secret = (pem: Pem) => ({ 'tls.crt': pem.cert, 'tls.key': pem.key });
  const fingerprint = (pem: Pem) => new X509Certificate(pem.cert).fingerprint256;

  const fake: FakeKubeApi = await startFakeKubeApi();
  cleanups.push(() => fake.close());
  fake.create('shop', { labels: { [POLICY_LABEL]: 'default' } });
  fake.create('legacy');
  // A cluster with NodeLocal DNSCache: the default policy points pods at it.
  seedClusterDns(fake);

  let ndots = 3;
  let edits = 0;
  const configVolume: AtomicVolume = await atomicVolume(join(dir, 'config'), {
    'config.yaml': configText(ndots, 'initial'),
  });
  let currentCert = await serving();
  const certVolume: AtomicVolume = await atomicVolume(join(dir, 'tls'), secret(currentCert));

  const logs = new LogTally();
  const server = await startServer(
    options.server,
    {
      kubeconfig: fake.kubeconfigPath,
      config: configVolume.path('config.yaml'),
      cert: certVolume.path('tls.crt'),
      key: certVolume.path('tls.key'),
    },
    options.drainSeconds,
    logs,
  );
  cleanups.push(() => server.kill());
  // Ready: namespaces synced and a certificate served.
  await eventually(async () => {
    const ready = await readyz(server.opsPort);
    if (ready.status !== 200) throw new Error(`dns-tuner not ready: ${JSON.stringify(ready.failing)}`);
  }, 15_000);

  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  let reviews = 0;
  let failures = 0;
  const failureSamples: string[] = [];
  const problems: string[] = [];
  const latency = new Reservoir();
  /** The longest wait for each kind of change to show, by step (numbers in the name replaced by N). */
  const settleMs = new Map<string, number>();
  const heapAfterGc: number[] = [];
  const count = (answer: Answer, what: string): Answer => {
    reviews++;
    if (answer.failure !== undefined) {
      failures++;
      if (failureSamples.length < 10)
        failureSamples.push(`${(elapsed() / 1000).toFixed(1)} s ${what}: ${answer.failure}`);
    }
    return answer;
  };

  // RSS sampling.
  const samples: RssSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await server.sample();
      if (s !== undefined) samples.push({ atMs: Math.round(elapsed()), ...s });
      await sleep(options.sampleEveryMs);
    }
  })();

  // The load: each client one review after the other on its own keep-alive connection.
  let churnName = 'churn-0';
  const targets = () => ['shop', 'legacy', churnName, 'kube-system'];
  let sending = true;
  let stopRequestedAt: number | undefined;
  let reviewsDuringDrain = 0;
  let shopUnpatched = 0;
  const agents = Array.from({ length: options.clients }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  cleanups.push(() => {
    for (const agent of agents) agent.destroy();
  });
  const clients = agents.map(async (agent, i) => {
    let n = i;
    while (sending) {
      const list = targets();
      const namespace = list[n++ % list.length]!;
      const started = performance.now();
      if (stopRequestedAt !== undefined) reviewsDuringDrain++;
      const answer = count(await review(server.port, namespace, ca.cert, agent), `client ${i} ${namespace}`);
      latency.add(performance.now() - started);
      // `shop` keeps its label and there is always a valid config: a pod there left unchanged means the webhook
      // fell back to "admit unchanged" on a failure of its own.
      if (namespace === 'shop' && answer.failure === undefined && !answer.patched) shopUnpatched++;
    }
  });

  // Should anything below throw, the clients and the sampler stop before the server goes.
  cleanups.push(async () => {
    sending = false;
    sampling = false;
    await Promise.allSettled([...clients, sampler]);
  });

  /** A probe review on a fresh connection (counted like the rest). */
  const probe = async (namespace: string) => count(await review(server.port, namespace, ca.cert, false), 'probe');
  const metrics = async () => scrape(server.opsPort);
  const metric = async (name: string, labels: string) => metricValue(await metrics(), name, labels) ?? 0;
  /** Waits until `check` holds; on timeout records a problem and goes on (the soak still ends cleanly). */
  const settle = async (what: string, check: () => Promise<boolean>) => {
    const began = performance.now();
    const ok = await eventually(async () => {
      if (!(await check())) throw new Error(`${what}: not yet`);
    }, options.settleTimeoutMs).then(
      () => true,
      () => false,
    );
    const step = what.replace(/\d+/g, 'N');
    settleMs.set(step, Math.max(settleMs.get(step) ?? 0, performance.now() - began));
    if (!ok)
      problems.push(`${(elapsed() / 1000).toFixed(1)} s: ${what} did not happen within ${options.settleTimeoutMs} ms`);
    await sleep(options.stepPauseMs);
  };

  const changes = {
    certRotations: 0,
    configValid: 0,
    configInvalid: 0,
    namespacesCreated: 0,
    relabels: 0,
    namespacesDeleted: 0,
    expiredWatches: 0,
    droppedWatches: 0,
  };
  const rotate = async () => {
    currentCert = await serving();
    await certVolume.write(secret(currentCert));
    changes.certRotations++;
    const wanted = fingerprint(currentCert);
    await settle(`certificate rotation ${changes.certRotations}`, async () => {
      const answer = await probe('shop');
      return answer.fingerprint === wanted;
    });
  };

  let cycles = 0;
  while (cycles < (options.minCycles ?? 1) || elapsed() < options.durationMs) {
    cycles++;
    progress(`cycle ${cycles} at ${(elapsed() / 1000).toFixed(0)} s: ${reviews} reviews, ${failures} failed`);

    await rotate();

    // A valid edit: the next pods in `shop` get the new ndots.
    ndots = ndots === 2 ? 4 : 2;
    await configVolume.write({ 'config.yaml': configText(ndots, `edit ${++edits}`) });
    changes.configValid++;
    const want = String(ndots);
    await settle(`config edit to ndots ${ndots}`, async () => optionOf((await probe('shop')).spec, 'ndots') === want);

    // A new namespace, labelled: its pods get the policy.
    churnName = `churn-${cycles}`;
    fake.create(churnName, { labels: { [POLICY_LABEL]: 'default' } });
    changes.namespacesCreated++;
    await settle(`new namespace ${churnName} with policy default`, async () => {
      const answer = await probe(churnName);
      return answer.spec?.dnsPolicy === 'None' && optionOf(answer.spec, 'ndots') === want;
    });

    // Relabelled to the other policy: the next pods get that one.
    fake.setLabel(churnName, POLICY_LABEL, 'options-only');
    changes.relabels++;
    await settle(`${churnName} relabelled to options-only`, async () => {
      const answer = await probe(churnName);
      return answer.spec?.dnsPolicy === 'ClusterFirst' && optionOf(answer.spec, 'timeout') === '2';
    });

    // The watch falls out of the apiserver's window: the source relists.
    const expiredBefore = await metric('dns_tuner_namespace_relists_total', 'reason="expired"');
    fake.expireWatches();
    changes.expiredWatches++;
    await settle('relist after an expired watch', async () => {
      return (await metric('dns_tuner_namespace_relists_total', 'reason="expired"')) > expiredBefore;
    });

    // An invalid edit is rejected; the last good config stays.
    const failedBefore = await metric('dns_tuner_config_reloads_total', 'result="failed"');
    await configVolume.write({ 'config.yaml': configText(99, `invalid edit ${++edits}`) });
    changes.configInvalid++;
    await settle('invalid config rejected', async () => {
      return (await metric('dns_tuner_config_reloads_total', 'result="failed"')) > failedBefore;
    });
    const kept = optionOf((await probe('shop')).spec, 'ndots');
    if (kept !== want) problems.push(`after the invalid config, shop pods got ndots ${kept} instead of ${want}`);

    await rotate();

    // The watch connection is cut: the source re-opens it and keeps following.
    const restartsBefore = await restartsTotal(metrics);
    fake.dropWatches();
    changes.droppedWatches++;
    await settle('watch restart after a dropped watch', async () => (await restartsTotal(metrics)) > restartsBefore);
    fake.setLabel('legacy', POLICY_LABEL, 'default');
    changes.relabels++;
    await settle('legacy labelled with policy default', async () => (await probe('legacy')).patched);
    fake.setLabel('legacy', POLICY_LABEL, undefined);
    changes.relabels++;
    await settle('legacy unlabelled', async () => {
      const answer = await probe('legacy');
      return answer.failure === undefined && !answer.patched;
    });

    // Deleted: its pods are no longer changed (the namespace is unknown).
    fake.delete(churnName);
    changes.namespacesDeleted++;
    await settle(`${churnName} deleted`, async () => {
      const answer = await probe(churnName);
      return answer.failure === undefined && !answer.patched;
    });

    if (server.heapAfterGc) heapAfterGc.push(server.heapAfterGc());
  }

  const text = await metrics();
  const byLabel = (name: string, label: string) => {
    const out: Record<string, number> = {};
    const re = new RegExp(`^${name}\\{${label}="([^"]+)"\\} (\\S+)$`, 'gm');
    for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
    return out;
  };
  const resultOf = (name: string) => ({
    ok: metricValue(text, name, 'result="ok"') ?? 0,
    failed: metricValue(text, name, 'result="failed"') ?? 0,
  });
  const finalMetrics = {
    configReloads: resultOf('dns_tuner_config_reloads_total'),
    certificateReloads: resultOf('dns_tuner_certificate_reloads_total'),
    relists: byLabel('dns_tuner_namespace_relists_total', 'reason'),
    watchRestarts: byLabel('dns_tuner_namespace_watch_restarts_total', 'reason'),
  };
  if (
    finalMetrics.configReloads.ok !== changes.configValid ||
    finalMetrics.configReloads.failed !== changes.configInvalid
  ) {
    problems.push(
      `config reloads ok/failed ${finalMetrics.configReloads.ok}/${finalMetrics.configReloads.failed}, ` +
        `expected ${changes.configValid}/${changes.configInvalid}`,
    );
  }
  if (finalMetrics.certificateReloads.ok !== changes.certRotations || finalMetrics.certificateReloads.failed !== 0) {
    problems.push(
      `certificate reloads ok/failed ${finalMetrics.certificateReloads.ok}/${finalMetrics.certificateReloads.failed}, ` +
        `expected ${changes.certRotations}/0`,
    );
  }

  // The kubelet's stop: SIGTERM (or stop(drain)); the clients go on until a little after /readyz fails.
  progress(`stopping at ${(elapsed() / 1000).toFixed(0)} s: ${reviews} reviews, ${failures} failed`);
  const stopAt = performance.now();
  stopRequestedAt = stopAt;
  const stopping = server.stop(options.drainSeconds);
  let notReadyAfterMs: number | undefined;
  while (notReadyAfterMs === undefined && performance.now() - stopAt < 5_000) {
    const status = await readyz(server.opsPort).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 503) notReadyAfterMs = Math.round(performance.now() - stopAt);
    else await sleep(20);
  }
  if (notReadyAfterMs === undefined) problems.push('/readyz did not turn 503 within 5 s of the stop');
  await sleep(options.endpointRemovalMs);
  sending = false;
  await Promise.all(clients);
  const stopped = await stopping;
  sampling = false;
  await sampler;
  if (!stopped.clean) problems.push(`the server did not stop cleanly (exit code ${stopped.exitCode})`);
  if (shopUnpatched > 0) problems.push(`${shopUnpatched} reviews in shop came back without a patch`);
  const reviewErrors = logs.warnings.get('review failed, pod admitted unchanged') ?? 0;
  if (reviewErrors > 0) problems.push(`the server logged ${reviewErrors} failed reviews (pods admitted unchanged)`);

  const rssValues = samples.map((s) => s.rss);
  const third = Math.max(1, Math.floor(rssValues.length / 3));
  return {
    options,
    elapsedMs: Math.round(elapsed()),
    reviews,
    failures,
    failureSamples,
    problems,
    cycles,
    changes,
    metrics: finalMetrics,
    latencyMs: { p50: latency.quantile(0.5), p99: latency.quantile(0.99), max: latency.quantile(1) },
    rss: {
      samples,
      min: Math.min(...rssValues),
      median: median(rssValues),
      max: Math.max(...rssValues),
      firstThirdMedian: median(rssValues.slice(0, third)),
      lastThirdMedian: median(rssValues.slice(-third)),
    },
    stop: { clean: stopped.clean, exitCode: stopped.exitCode, reviewsDuringDrain, notReadyAfterMs },
    serverLog: { reviews: logs.reviewLines, warnings: Object.fromEntries(logs.warnings) },
    heapAfterGc,
    slowestSettleMs: Object.fromEntries([...settleMs].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)])),
  };
}

async function restartsTotal(metrics: () => Promise<string>): Promise<number> {
  const text = await metrics();
  let total = 0;
  for (const m of text.matchAll(/^dns_tuner_namespace_watch_restarts_total\{[^}]*\} (\S+)$/gm)) total += Number(m[1]);
  return total;
}

let gcFunction: (() => void) | undefined;

/**
 * `global.gc` without starting Node with --expose-gc: the flag is turned on at run time and `gc` taken from a fresh
 * context, where V8 then installs it.
 */
function fullGc(): () => void {
  if (gcFunction === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as () => void;
  }
  return gcFunction;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The summary, as Markdown lines (the long soak prints it and writes it into docs/benchmarks.md). */
export function formatSoakSummary(r: SoakResult): string {
  const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
  const pairs = (record: Record<string, number>) =>
    Object.entries(record)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const seconds = r.elapsedMs / 1000;
  const heap = r.rss.samples.flatMap((s) => (s.heapUsed === undefined ? [] : [s.heapUsed]));
  const lines = [
    `- duration: ${seconds.toFixed(0)} s of load, ${r.cycles} change cycles, ${r.options.clients} keep-alive clients, ` +
      `server ${r.options.server === 'child' ? '`node dist/main.js` (child process)' : 'in-process (`startServer()`)'}`,
    `- reviews: ${r.reviews} (${(r.reviews / seconds).toFixed(0)}/s), **failed: ${r.failures}**; latency p50 ` +
      `${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(1)} ms ` +
      '(sampled, clients on the same machine)',
    `- changes: ${r.changes.certRotations} certificate rotations, ${r.changes.configValid} valid and ` +
      `${r.changes.configInvalid} invalid config edits, ${r.changes.namespacesCreated} namespaces created, ` +
      `${r.changes.relabels} relabels, ${r.changes.namespacesDeleted} deleted, ${r.changes.expiredWatches} expired ` +
      `and ${r.changes.droppedWatches} dropped watches`,
    `- server metrics: config reloads ok ${r.metrics.configReloads.ok} / failed ${r.metrics.configReloads.failed}; ` +
      `certificate swaps ok ${r.metrics.certificateReloads.ok} / failed ${r.metrics.certificateReloads.failed}; ` +
      `relists: ${pairs(r.metrics.relists)}; watch restarts: ${pairs(r.metrics.watchRestarts)}`,
    `- RSS (${r.rss.samples.length} samples every ${r.options.sampleEveryMs / 1000} s): min ${mib(r.rss.min)}, ` +
      `median ${mib(r.rss.median)}, max ${mib(r.rss.max)}; first-third median ${mib(r.rss.firstThirdMedian)}, ` +
      `last-third median ${mib(r.rss.lastThirdMedian)}` +
      (heap.length > 0
        ? `; V8 heap used min ${mib(Math.min(...heap))}, median ${mib(median(heap))}, max ${mib(Math.max(...heap))}`
        : ''),
    ...(r.heapAfterGc.length > 0
      ? [`- V8 heap after a full GC at the end of each cycle: ${r.heapAfterGc.map((b) => mib(b)).join(', ')}`]
      : []),
    `- stop: ${r.options.server === 'child' ? `SIGTERM, exit code ${r.stop.exitCode}` : `stop(${r.options.drainSeconds})`}` +
      `, /readyz 503 after ${r.stop.notReadyAfterMs ?? '–'} ms, ${r.stop.reviewsDuringDrain} reviews sent during ` +
      `the ${r.options.drainSeconds} s drain, ${r.stop.clean ? 'clean' : '**not clean**'}`,
    `- server log: ${r.serverLog.reviews} review lines; warnings/errors: ${pairs(r.serverLog.warnings)}`,
    `- longest wait for a change to show: ${Object.entries(r.slowestSettleMs)
      .slice(0, 4)
      .map(([step, ms]) => `${step} ${(ms / 1000).toFixed(1)} s`)
      .join(', ')}`,
    `- problems: ${r.problems.length === 0 ? 'none' : r.problems.join('; ')}`,
  ];
  if (r.failureSamples.length > 0) lines.push(`- first failures: ${r.failureSamples.join('; ')}`);
  return lines.join('\n');
}
