/**
 * Shared pieces for the HTTP tests: the example AdmissionReview, the example config and namespaces loaded the way
 * main.ts loads them, a logger whose lines the test can read, and an HTTPS client that trusts only the CA it is given.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Writable } from 'node:stream';
import type { Operation } from 'fast-json-patch';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/core/types.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { createFileNamespaceSource } from '../../src/namespaces/file-source.ts';
import type { NamespaceSource } from '../../src/namespaces/source.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const EXAMPLE_CONFIG = `${ROOT}examples/config.yaml`;
export const EXAMPLE_NAMESPACES = `${ROOT}examples/namespaces.yaml`;
export const EXAMPLE_REVIEW = `${ROOT}examples/admission-review.json`;

export type Json = Record<string, unknown>;

/** A fresh copy of examples/admission-review.json. */
export function exampleReview(): Json {
  return JSON.parse(readFileSync(EXAMPLE_REVIEW, 'utf8')) as Json;
}

/** The example review, moved to another namespace (request and pod metadata), with an optional tweak. */
export function reviewIn(namespace: string, tweak?: (review: { request: Json & { object: Json } }) => void): Json {
  const review = exampleReview() as { request: Json & { object: Json & { metadata: Json } } };
  review.request.namespace = namespace;
  review.request.object.metadata.namespace = namespace;
  tweak?.(review);
  return review;
}

export function requestOf(review: Json): Json & { object: Json } {
  return review.request as Json & { object: Json };
}

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
  registry: Registry;
  metrics: Metrics;
}

/** The example config and namespaces, loaded like main.ts does, and a registry of its own. */
export async function exampleDeps(): Promise<Deps> {
  const config = await loadConfig(EXAMPLE_CONFIG);
  const namespaces = createFileNamespaceSource(EXAMPLE_NAMESPACES);
  await namespaces.start();
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: 'test', defaultMetrics: false });
  return { config, namespaces, registry, metrics };
}

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** POSTs over HTTPS trusting only `ca` and checking the certificate against `servername`, as the apiserver does. */
export function httpsPost(
  port: number,
  path: string,
  body: string | Buffer,
  tls: { ca: string; servername: string; agent?: https.Agent },
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca: tls.ca,
        servername: tls.servername,
        agent: tls.agent ?? false,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export interface ReviewResponse {
  uid: string;
  allowed: boolean;
  patch?: string;
  patchType?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export function responseOf(body: string): ReviewResponse {
  const parsed = JSON.parse(body) as { apiVersion: string; kind: string; response: ReviewResponse };
  if (parsed.apiVersion !== 'admission.k8s.io/v1' || parsed.kind !== 'AdmissionReview') {
    throw new Error(`not an AdmissionReview response: ${body}`);
  }
  return parsed.response;
}

/** The response's JSONPatch, typed for fast-json-patch's applyPatch. */
export function decodePatch(response: ReviewResponse): Operation[] {
  if (response.patch === undefined) throw new Error('response carries no patch');
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
}
