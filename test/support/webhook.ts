/**
 * Shared pieces for the HTTP tests: the example config and namespaces loaded the way the server loads them, a logger
 * whose lines the test can read, the webhook (wired by src/server/wire.ts) listening over HTTPS with a certificate
 * from a fresh test CA (or that certificate written as the files --tls-cert/--tls-key read). The review helpers and the
 * HTTPS client live in lab/ and are re-exported here for the tests that import them with the rest.
 */
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EXAMPLE_CONFIG, EXAMPLE_NAMESPACES } from '../../lab/paths.ts';
import { type Ca, makeCa, makeServingCert, type Pem } from '../../lab/pki.ts';
import type { Json } from '../../lab/review.ts';
import type { ClusterFactsSource } from '../../src/cluster/source.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/core/types.ts';
import type { WebhookAppOptions } from '../../src/http/webhook-app.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { openObjectFile } from '../../src/namespaces/file-source.ts';
import type { NamespaceSource } from '../../src/namespaces/source.ts';
import { wireWebhook } from '../../src/server/wire.ts';

export { type HttpsResult, httpsPost } from '../../lab/client.ts';
export { EXAMPLE_CONFIG, EXAMPLE_NAMESPACES, EXAMPLE_REVIEW, ROOT, SERVICE_NAME } from '../../lab/paths.ts';
export {
  decodePatch,
  exampleReview,
  type Json,
  type ReviewResponse,
  requestOf,
  responseOf,
  reviewIn,
} from '../../lab/review.ts';

export interface LogCapture {
  logger: pino.Logger;
  lines: Json[];
}

export function captureLogger(): LogCapture {
  const lines: Json[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Json);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

export interface Deps {
  config: Config;
  namespaces: NamespaceSource;
  /** The cluster facts of the same file (it holds none: the config is trusted, as without a cluster). */
  clusterFacts: ClusterFactsSource;
  registry: Registry;
  metrics: Metrics;
}

/**
 * The example config and namespaces, loaded like main.ts does, and a registry of its own. `objectsFile` replaces the
 * example namespaces with a file of the cluster's objects (Namespaces, NetworkPolicies, kube-system's DNS objects).
 */
export async function exampleDeps(objectsFile: string = EXAMPLE_NAMESPACES): Promise<Deps> {
  const config = await loadConfig(EXAMPLE_CONFIG);
  const file = openObjectFile(objectsFile, config.discovery);
  await file.namespaces.start();
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: 'test', defaultMetrics: false });
  return { config, namespaces: file.namespaces, clusterFacts: file.clusterFacts, registry, metrics };
}

export interface HttpsWebhookOptions {
  /** The test CA's common name. */
  caName: string;
  /** The serving certificate's names; clients check one of them, as the apiserver checks the Service name. */
  hosts: string[];
  /** Called once per review; the example config (`deps.config`) unless given. */
  getConfig?: () => Config;
  /** `discard` for tests that send thousands of reviews and check the answers, not the log lines. */
  logs?: 'capture' | 'discard';
  /** The server's cut-offs for slow clients (the webhook app's `timeouts`); the production values unless given. */
  timeouts?: WebhookAppOptions['timeouts'];
  /** The budget of request bytes being received at once (production default unless given). */
  bodyBytesInFlight?: number;
  /** A file of the cluster's objects instead of the example namespaces (see exampleDeps). */
  objectsFile?: string | undefined;
}

export interface HttpsWebhook {
  ca: Ca;
  serving: Pem;
  deps: Deps;
  /** With `logs: 'discard'`, `lines` stays empty. */
  logs: LogCapture;
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

/**
 * The webhook as the composition root wires it (src/server/wire.ts), with the example deps, listening on a loopback port over HTTPS with a serving
 * certificate signed by a CA made for this test alone.
 */
export async function startHttpsWebhook(options: HttpsWebhookOptions): Promise<HttpsWebhook> {
  const ca = await makeCa({ commonName: options.caName });
  const serving = await makeServingCert(ca, { hosts: options.hosts });
  const deps = await exampleDeps(options.objectsFile);
  const logs: LogCapture =
    options.logs === 'discard'
      ? { logger: pino({ level: 'info' }, new Writable({ write: (_chunk, _encoding, done) => done() })), lines: [] }
      : captureLogger();
  const { app } = wireWebhook({
    logger: logs.logger,
    getConfig: options.getConfig ?? (() => deps.config),
    namespaces: deps.namespaces,
    clusterFacts: deps.clusterFacts,
    metrics: deps.metrics,
    https: serving,
    timeouts: options.timeouts,
    bodyBytesInFlight: options.bodyBytesInFlight,
  });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (error) {
    await app.close();
    throw error;
  }
  const port = (app.server.address() as AddressInfo).port;
  return { ca, serving, deps, logs, app, port, close: () => app.close() };
}

export interface ServingFiles {
  ca: Ca;
  /** `dir/tls.crt` and `dir/tls.key`. */
  cert: string;
  key: string;
  /** `--tls-cert <cert> --tls-key <key>`. */
  flags: string[];
}

/** A fresh CA and a serving certificate for `hosts` signed by it, written where `--tls-cert`/`--tls-key` read them. */
export async function writeServingFiles(dir: string, hosts: string[] = ['localhost']): Promise<ServingFiles> {
  const ca = await makeCa();
  const serving = await makeServingCert(ca, { hosts });
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await writeFile(cert, serving.cert);
  await writeFile(key, serving.key, { mode: 0o600 });
  return { ca, cert, key, flags: ['--tls-cert', cert, '--tls-key', key] };
}
