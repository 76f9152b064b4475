/**
 * The BUILT program, as `npm start` and the container run it: `node dist/main.js` (built by `pretest`). Catches what
 * type stripping in vitest hides: ESM import traps in dist/ (CommonJS packages' named exports), the banner, signals
 * and exit codes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_HOSTS, makeCa, makeServingCert } from '../scripts/pki.ts';
import {
  decodePatch,
  EXAMPLE_CONFIG,
  EXAMPLE_NAMESPACES,
  EXAMPLE_REVIEW,
  exampleReview,
  httpsPost,
  type Json,
  ROOT,
  requestOf,
  responseOf,
} from './support/webhook.ts';

const MAIN = join(ROOT, 'dist', 'main.js');
const WAIT_MS = 15_000;

let dir: string;
let caCert: string;
const children: ChildProcess[] = [];

/**
 * The environment without any dns-tuner setting or cluster access of the person running the tests (HOME points at
 * the test's directory, so no ~/.kube/config is found).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir };
  for (const key of Object.keys(env)) {
    if (key.startsWith('DNS_TUNER_') || key === 'KUBECONFIG' || key.startsWith('KUBERNETES_SERVICE_')) delete env[key];
  }
  return env;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Run {
  // process.execPath is the Node 24 that runs vitest (npm scripts put node_modules/.bin/node first on PATH).
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

function logLines(run: Run): Json[] {
  return run
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json);
}

async function waitFor<T>(what: string, run: Run, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let exited = false;
  void run.exit.then(() => {
    exited = true;
  });
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (exited || Date.now() > deadline) {
      throw new Error(`${what} did not happen; stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does it in pretest)`);
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-dist-'));
  const ca = await makeCa();
  const serving = await makeServingCert(ca, { hosts: DEV_HOSTS });
  caCert = ca.cert;
  await writeFile(join(dir, 'ca.crt'), ca.cert);
  await writeFile(join(dir, 'tls.crt'), serving.cert);
  await writeFile(join(dir, 'tls.key'), serving.key, { mode: 0o600 });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('node dist/main.js', () => {
  it('serves the example review over HTTPS, prints a curl for it, and exits 0 on SIGTERM', async () => {
    const run = start([
      '--config',
      EXAMPLE_CONFIG,
      '--namespaces',
      EXAMPLE_NAMESPACES,
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--ops-port',
      '0',
      '--drain-delay',
      '0',
    ]);
    const listening = await waitFor('the "listening" log line', run, () =>
      logLines(run).find((l) => l.msg === 'listening'),
    );
    const port = listening.port as number;
    const opsPort = listening.opsPort as number;
    expect(port).toBeGreaterThan(0);

    // The banner's curl names the real port, the CA beside the certificate and the example file.
    await waitFor('the curl line', run, () => (run.stderr().includes('curl ') ? true : undefined));
    expect(run.stderr()).toContain(
      `curl --cacert ${join(dir, 'ca.crt')} -H 'Content-Type: application/json' --data @examples/admission-review.json https://127.0.0.1:${port}/mutate`,
    );
    expect(existsSync(EXAMPLE_REVIEW)).toBe(true);

    const review = exampleReview();
    const res = await httpsPost(port, '/mutate', JSON.stringify(review), { ca: caCert, servername: 'localhost' });
    expect(res.status).toBe(200);
    const pod = jsonpatch.applyPatch(structuredClone(requestOf(review).object), decodePatch(responseOf(res.body)))
      .newDocument as { spec: Json & { dnsConfig: Json } };
    expect(pod.spec.dnsPolicy).toBe('None');
    expect(pod.spec.dnsConfig.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);

    const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metrics).toContain('dns_tuner_reviews_total{decision="mutated",reason="policy-applied",policy="default"} 1');

    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(logLines(run).map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
  });

  it('exits 2 naming a bad flag', async () => {
    const run = start(['--port', 'abc']);
    expect(await run.exit).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toBe('dns-tuner: --port: "abc" is not a port number (1-65535)\n');
  });

  it('exits 1 with one clear line when there is neither --namespaces nor a cluster configuration', async () => {
    const run = start([
      '--config',
      EXAMPLE_CONFIG,
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
    ]);
    expect(await run.exit).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toMatch(
      /^dns-tuner: cluster namespace source: no Kubernetes client configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster.*--namespaces FILE.*\n$/,
    );
  });

  // A Secret's files may appear after the process starts (cert-manager issues the certificate later): the process
  // stays up, not ready, and says which file is missing and how to make a development one.
  it('names the missing certificate and how to make one, stays unready, and exits 0 on SIGTERM', async () => {
    const missing = join(dir, 'absent.crt');
    const run = start([
      '--namespaces',
      EXAMPLE_NAMESPACES,
      '--tls-cert',
      missing,
      '--tls-key',
      join(dir, 'tls.key'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--ops-port',
      '0',
      '--drain-delay',
      '0',
    ]);
    const listening = await waitFor('the "listening" log line', run, () =>
      logLines(run).find((l) => l.msg === 'listening'),
    );
    expect(run.stderr()).toContain(`dns-tuner: TLS certificate ${missing} (--tls-cert): not found`);
    expect(run.stderr()).toContain('scripts/dev-certs.ts');
    const ready = await fetch(`http://127.0.0.1:${listening.opsPort as number}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { failing: Array<{ name: string; reason: string }> };
    expect(body.failing).toEqual([
      { name: 'certificate', ok: false, reason: `TLS certificate ${missing} (--tls-cert): not found` },
    ]);
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });
});
