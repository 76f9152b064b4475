/**
 * One benchmark server, run as a child process of bench/webhook.ts (so the load generator never shares its event
 * loop). Driven over the IPC channel:
 *
 *   parent → { type: 'start', role, cert, key, namespaces, config }   child → { type: 'ready', port, namespaces }
 *   parent → { type: 'respond', body }   (limit only: the constant answer)   child → { type: 'ok' }
 *   parent → { type: 'usage', gc? }      child → { type: 'usage', ...Usage }
 *   parent → { type: 'stop' }            child exits
 *
 * Roles:
 *   ours   the webhook as src/server/wire.ts wires it for the composition root: the example config, a pino logger at info (one JSON line
 *          per review, written synchronously like pino's default stdout destination, here to /dev/null), a metrics
 *          registry with the default process metrics, and an in-memory namespace source with N namespaces.
 *   limit  a bare node:https server with the same certificate, key and TLS/HTTP options that reads the body,
 *          JSON.parses it and writes a constant AdmissionReview: what any Node webhook must at least spend.
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/load.ts';
import { connectionTimeoutMs, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUTS } from '../src/http/webhook-app.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { wireWebhook } from '../src/server/wire.ts';
import { tlsContextOptions } from '../src/tls/context.ts';
import { createMemoryNamespaceSource } from './memory-source.ts';

export type Role = 'ours' | 'limit';

export type ToChild =
  | { type: 'start'; role: Role; cert: string; key: string; namespaces: number; config: string }
  | { type: 'respond'; body: string }
  | { type: 'usage'; gc?: boolean }
  | { type: 'stop' };

export interface Usage {
  /** User + system CPU time since the process started, microseconds. */
  cpuUs: number;
  rss: number;
  heapUsed: number;
  /** Peak resident set size so far, bytes. */
  maxRss: number;
}

export type FromChild =
  | { type: 'ready'; port: number; namespaces: number }
  | { type: 'ok' }
  | ({ type: 'usage' } & Usage)
  | { type: 'error'; message: string };

function send(message: FromChild): void {
  process.send?.(message);
}

function usage(): Usage {
  const r = process.resourceUsage();
  return {
    cpuUs: r.userCPUTime + r.systemCPUTime,
    rss: process.memoryUsage.rss(),
    heapUsed: process.memoryUsage().heapUsed,
    maxRss: r.maxRSS * 1024,
  };
}

/** The limit's constant answer; the parent sets it to the bytes ours answered for the pod being measured. */
let answer = Buffer.from(
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '', allowed: true } }),
);

/** Fastify passes the same to node:https (see src/http/webhook-app.ts): the limit gets the identical server setup. */
const serverOptions = {
  headersTimeout: DEFAULT_TIMEOUTS.headersMs,
  connectionsCheckingInterval: DEFAULT_TIMEOUTS.connectionsCheckingIntervalMs,
  handshakeTimeout: DEFAULT_TIMEOUTS.handshakeMs,
};

async function startOurs(
  cert: string,
  key: string,
  count: number,
  configFile: string,
): Promise<{ port: number; close: () => unknown }> {
  const config = await loadConfig(configFile);
  const logger = pino(
    { level: 'info', base: { pid: process.pid } },
    pino.destination({ dest: '/dev/null', sync: true }),
  );
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: 'bench' });
  const namespaces = createMemoryNamespaceSource(count);
  await namespaces.start();
  const { app } = wireWebhook({ logger, getConfig: () => config, namespaces, metrics, https: { cert, key } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

async function startLimit(cert: string, key: string): Promise<{ port: number; close: () => unknown }> {
  const server = createServer({ ...tlsContextOptions({ cert, key }), ...serverOptions }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= DEFAULT_BODY_LIMIT) chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        JSON.parse(Buffer.concat(chunks).toString());
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.length });
        res.end(answer);
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  server.keepAliveTimeout = DEFAULT_TIMEOUTS.keepAliveMs;
  server.requestTimeout = DEFAULT_TIMEOUTS.requestMs;
  server.setTimeout(connectionTimeoutMs(DEFAULT_TIMEOUTS));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

let running: { close: () => unknown } | undefined;

process.on('message', (message: ToChild) => {
  (async () => {
    switch (message.type) {
      case 'start': {
        const started =
          message.role === 'ours'
            ? await startOurs(message.cert, message.key, message.namespaces, message.config)
            : await startLimit(message.cert, message.key);
        running = started;
        send({ type: 'ready', port: started.port, namespaces: message.role === 'ours' ? message.namespaces : 0 });
        return;
      }
      case 'respond':
        answer = Buffer.from(message.body);
        send({ type: 'ok' });
        return;
      case 'usage':
        if (message.gc) (globalThis as { gc?: () => void }).gc?.();
        send({ type: 'usage', ...usage() });
        return;
      case 'stop':
        await running?.close();
        process.exit(0);
    }
  })().catch((error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
});

// The parent going away (Ctrl-C on the benchmark) takes the server with it.
process.on('disconnect', () => process.exit(0));
