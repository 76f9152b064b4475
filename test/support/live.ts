/**
 * Pieces for the live tests (test/live/): dns-tuner started in-process with a log the test can read, and HTTPS
 * reviews that report the certificate the server presented. The volume writer, `eventually` and the ops-port clients
 * are in lab/ (the soak uses them too).
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import jsonpatch from 'fast-json-patch';
import { startApp } from '../../lab/in-process.ts';
import { decodePatch, type Json, requestOf, responseOf, reviewIn } from '../../lab/review.ts';
import type { RunningServer, StartOptions } from '../../src/server/start.ts';
import { captureLogger, type LogCapture } from './webhook.ts';

export interface InProcess {
  app: RunningServer;
  logs: LogCapture;
  /** The lines with this `msg`. */
  logged(msg: string): Json[];
}

/** Starts dns-tuner in this process from command-line flags, with an empty environment and a captured log. */
export async function startInProcess(args: string[], options: StartOptions = {}): Promise<InProcess> {
  const logs = captureLogger();
  const app = await startApp(args, { logger: logs.logger, ...options });
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
