/**
 * The BUILT program, as `npm start` and the container run it: `node dist/main.js` (built by `pretest`). Catches what
 * type stripping in vitest hides: ESM import traps in dist/ (CommonJS packages' named exports), the banner, signals
 * and exit codes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsPost } from '../lab/client.ts';
import { EXAMPLE_CONFIG, EXAMPLE_NAMESPACES, EXAMPLE_REVIEW } from '../lab/paths.ts';
import { DEV_HOSTS } from '../lab/pki.ts';
import {
  isolatedEnv,
  loopbackPorts,
  MAIN,
  type NodeRun,
  requireBuilt,
  spawnNode,
  waitFor,
  waitForLog,
} from '../lab/process.ts';
import { decodePatch, exampleReview, type Json, requestOf, responseOf } from '../lab/review.ts';
import { type ServingFiles, writeServingFiles } from './support/webhook.ts';

let dir: string;
let tls: ServingFiles;
const runs: NodeRun[] = [];

/**
 * `node dist/main.js args`, without any dns-tuner setting or cluster access of the person running the tests (HOME
 * points at the test's directory, so no ~/.kube/config is found).
 */
function start(args: string[]): NodeRun {
  const run = spawnNode(MAIN, args, { env: isolatedEnv({ HOME: dir }) });
  runs.push(run);
  return run;
}

beforeAll(async () => {
  requireBuilt(MAIN);
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-dist-'));
  tls = await writeServingFiles(dir, DEV_HOSTS);
  // Beside the certificate, where the banner's curl looks for it.
  await writeFile(join(dir, 'ca.crt'), tls.ca.cert);
});

afterAll(async () => {
  await Promise.all(runs.map((run) => run.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('node dist/main.js', () => {
  it('serves the example review over HTTPS, prints a curl for it, and exits 0 on SIGTERM', async () => {
    const run = start([
      '--config',
      EXAMPLE_CONFIG,
      '--namespaces',
      EXAMPLE_NAMESPACES,
      ...tls.flags,
      ...loopbackPorts(),
    ]);
    const listening = await waitForLog(run, 'listening');
    const port = listening.port as number;
    const opsPort = listening.opsPort as number;
    expect(port).toBeGreaterThan(0);

    // The banner's curl names the real port, the CA beside the certificate and the example file.
    await waitFor(run, 'the curl line', () => (run.stderr().includes('curl ') ? true : undefined));
    expect(run.stderr()).toContain(
      `curl --cacert ${join(dir, 'ca.crt')} -H 'Content-Type: application/json' --data @examples/admission-review.json https://127.0.0.1:${port}/mutate`,
    );
    expect(existsSync(EXAMPLE_REVIEW)).toBe(true);

    const review = exampleReview();
    const res = await httpsPost(port, '/mutate', JSON.stringify(review), { ca: tls.ca.cert, servername: 'localhost' });
    expect(res.status).toBe(200);
    const pod = jsonpatch.applyPatch(structuredClone(requestOf(review).object), decodePatch(responseOf(res.body)))
      .newDocument as { spec: Json & { dnsConfig: Json } };
    expect(pod.spec.dnsPolicy).toBe('None');
    expect(pod.spec.dnsConfig.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);

    const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metrics).toContain(
      'dns_tuner_reviews_total{decision="mutated",reason="policy-applied",policy="default",server_dry_run="false"} 1',
    );

    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(run.logLines().map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
  });

  it('exits 2 naming a bad flag', async () => {
    const run = start(['--port', 'abc']);
    expect(await run.exit).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toBe('dns-tuner: --port: "abc" is not a port number (1-65535)\n');
  });

  it('exits 1 with one clear line when there is neither --namespaces nor a cluster configuration', async () => {
    const run = start(['--config', EXAMPLE_CONFIG, ...tls.flags]);
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
      tls.key,
      ...loopbackPorts(),
    ]);
    const listening = await waitForLog(run, 'listening');
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
