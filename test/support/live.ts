/**
 * Pieces for the live tests (test/live/): a ConfigMap/Secret-like volume written the way the kubelet writes one,
 * dns-tuner started in-process with `startServer()` and a log the test can read, HTTPS reviews that report the certificate
 * the server presented, and a Prometheus text reader.
 */
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import jsonpatch from 'fast-json-patch';
import { parseFlags } from '../../src/cli/flags.ts';
import { type RunningServer, type StartOptions, startServer } from '../../src/server/start.ts';
import { captureLogger, decodePatch, type Json, type LogCapture, requestOf, responseOf, reviewIn } from './webhook.ts';

/** Polls until `check` returns without throwing, or rethrows its last error after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * A directory laid out like a ConfigMap or Secret volume, updated like the kubelet's atomic writer does it
 * (pkg/volume/util/atomic_writer.go): the files go into a fresh `..<timestamp>` directory, a `..data_tmp` symlink to
 * it is renamed over `..data` (one atomic step), the visible names are symlinks `name -> ..data/name` created once,
 * and the previous timestamped directory is removed.
 */
export interface AtomicVolume {
  dir: string;
  path(name: string): string;
  /** Replaces the whole content (names left out disappear, as with a Secret key removed). */
  write(files: Record<string, string>): Promise<void>;
}

let generation = 0;

export async function atomicVolume(dir: string, files: Record<string, string>): Promise<AtomicVolume> {
  await mkdir(dir, { recursive: true });
  const visible = new Set<string>();
  const volume: AtomicVolume = {
    dir,
    path: (name) => join(dir, name),
    async write(next) {
      const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.pid}.${++generation}`;
      await mkdir(join(dir, stamp));
      for (const [name, content] of Object.entries(next)) await writeFile(join(dir, stamp, name), content);
      let previous: string | undefined;
      try {
        previous = await readlink(join(dir, '..data'));
      } catch {
        previous = undefined;
      }
      await symlink(stamp, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      for (const name of Object.keys(next)) {
        if (visible.has(name)) continue;
        await symlink(join('..data', name), join(dir, name));
        visible.add(name);
      }
      for (const name of [...visible]) {
        if (Object.hasOwn(next, name)) continue;
        await rm(join(dir, name), { force: true });
        visible.delete(name);
      }
      if (previous) await rm(join(dir, previous), { recursive: true, force: true });
    },
  };
  await volume.write(files);
  return volume;
}

export interface InProcess {
  app: RunningServer;
  logs: LogCapture;
  /** The lines with this `msg`. */
  logged(msg: string): Json[];
}

/** Starts dns-tuner in this process from command-line flags, with an empty environment and a captured log. */
export async function startInProcess(args: string[], options: StartOptions = {}): Promise<InProcess> {
  const parsed = parseFlags(['--host', '127.0.0.1', '--port', '0', '--ops-port', '0', ...args], {});
  if (!parsed.ok || parsed.help) throw new Error(`bad test flags: ${JSON.stringify(parsed)}`);
  const logs = captureLogger();
  const app = await startServer(parsed.flags, { env: {}, logger: logs.logger, filePollIntervalMs: 500, ...options });
  return { app, logs, logged: (msg) => logs.lines.filter((line) => line.msg === msg) };
}

export interface PeerCertificate {
  serialNumber: string;
  fingerprint256: string;
  validTo: string;
}

export interface ReviewResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The certificate the server presented on the connection this request used. */
  peer: PeerCertificate;
  /** Whether the request went over a connection kept alive from an earlier one. */
  reusedSocket: boolean;
}

export interface TlsClient {
  ca: string;
  servername?: string | undefined;
  agent?: https.Agent | undefined;
  /** Trust nothing, check nothing (to look at an expired certificate). */
  insecure?: boolean | undefined;
}

/** POSTs a review of the example pod in `namespace` to /mutate. */
export function postReview(port: number, namespace: string, client: TlsClient): Promise<ReviewResult> {
  const body = JSON.stringify(reviewIn(namespace));
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca: client.ca,
        servername: client.servername ?? 'localhost',
        rejectUnauthorized: !client.insecure,
        agent: client.agent ?? false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        timeout: 10_000,
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        const peer = { serialNumber: cert.serialNumber, fingerprint256: cert.fingerprint256, validTo: cert.valid_to };
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            peer,
            reusedSocket: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The pod spec after the response's patch (the pod unchanged when there is none). */
export function patchedPod(namespace: string, result: ReviewResult): Json & { spec: Json } {
  const pod = structuredClone(requestOf(reviewIn(namespace)).object);
  const response = responseOf(result.body);
  if (response.patch === undefined) return pod as Json & { spec: Json };
  return jsonpatch.applyPatch(pod, decodePatch(response)).newDocument as Json & { spec: Json };
}

/** The `ndots` option the patched pod ends up with, undefined if the review did not set one. */
export function ndotsAfter(namespace: string, result: ReviewResult): string | undefined {
  const options = (
    patchedPod(namespace, result).spec.dnsConfig as { options?: Array<{ name: string; value?: string }> }
  )?.options;
  return options?.find((o) => o.name === 'ndots')?.value;
}

/** The value of one sample in Prometheus text format; `labels` as written, e.g. `result="ok"`. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const wanted = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) !== wanted) continue;
    const value = line.slice(space + 1);
    return value === '+Inf' ? Number.POSITIVE_INFINITY : value === '-Inf' ? Number.NEGATIVE_INFINITY : Number(value);
  }
  return undefined;
}

export async function scrape(opsPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
  return res.text();
}

export interface Readyz {
  status: number;
  failing: Array<{ name: string; reason: string }>;
}

export async function readyz(opsPort: number): Promise<Readyz> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
  const body = (await res.json()) as { failing: Readyz['failing'] };
  return { status: res.status, failing: body.failing };
}
