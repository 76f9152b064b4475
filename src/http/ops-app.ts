/**
 * The operations endpoints on their own plain-HTTP port (kubelet probes and Prometheus do not need the webhook's TLS):
 *   GET /livez   — 200 while the process can answer; never consults the API server or any cache, so a Kubernetes
 *                  outage never gets healthy pods restarted.
 *   GET /readyz  — 200 only when every readiness check is ok; 503 with the failing checks otherwise.
 *   GET /metrics — Prometheus text exposition of the registry passed in.
 */
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type ReadinessCheck, runCheck } from '../health/readiness.ts';

export interface OpsAppOptions {
  logger: Logger;
  registry: Registry;
  /** Read on every /readyz request: checks pushed after the app is built count too. */
  readiness: ReadinessCheck[];
  /** A check that has not answered by then fails (a probe must answer within its own timeout). */
  checkTimeoutMs?: number;
}

export function buildOpsApp(opts: OpsAppOptions): FastifyInstance {
  const checkTimeoutMs = opts.checkTimeoutMs ?? 1_000;
  const app = Fastify({
    loggerInstance: opts.logger,
    // Probes and scrapes every few seconds would drown the review log.
    logController: new LogController({ disableRequestLogging: true }),
    // Readiness must keep answering 503 while the process drains, not vanish.
    return503OnClosing: false,
  }) as unknown as FastifyInstance;

  app.get('/livez', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));

  app.get('/readyz', async (_request, reply) => {
    const checks = await Promise.all(opts.readiness.map((c) => runCheck(c, checkTimeoutMs)));
    const failing = checks.filter((c) => !c.ok);
    return reply
      .code(failing.length === 0 ? 200 : 503)
      .send({ status: failing.length === 0 ? 'ok' : 'failing', checks, failing });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(text);
  });

  return app;
}
