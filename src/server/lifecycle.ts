/**
 * One lifecycle for the server: what is started is released in one place, in order, within a deadline, whether
 * start-up fails half-way or a signal stops it.
 *
 *   (signal) → not ready → drain (keep answering, `Connection: close`) → webhook stops accepting and finishes
 *   in-flight reviews → ops closes → the rest (namespace source, watchers) in reverse order of creation
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * After the drain, closing may take at most this long; then the remaining connections are cut. The Deployment's
 * terminationGracePeriodSeconds (20) must cover drain (5) + this + margin; in-flight reviews are bounded by the
 * webhook's timeoutSeconds (3) anyway.
 */
export const CLOSE_DEADLINE_MS = 10_000;

export interface Lifecycle {
  /** True from the first stop() (or a failed start): /readyz fails and responses say `Connection: close`. */
  readonly stopping: boolean;
  /** The webhook, from when it is built: closed first. */
  setWebhook(app: FastifyInstance): void;
  /** The ops server, from when it listens: closed after the webhook (probes and scrapes can be cut). */
  setOps(app: FastifyInstance): void;
  /** Released in reverse order after the servers. */
  onRelease(cleanup: () => unknown): void;
  /**
   * Shutdown: not ready → keep answering `drainSeconds` → release everything. Resolves true when everything closed
   * within the deadline. Idempotent.
   */
  stop(drainSeconds?: number): Promise<boolean>;
  /** A start-up that failed half-way: release what was started, at once. */
  abort(): Promise<boolean>;
}

export function createLifecycle(logger: Logger): Lifecycle {
  let stopping = false;
  let webhook: FastifyInstance | undefined;
  let ops: FastifyInstance | undefined;
  const cleanups: Array<() => unknown> = [];
  let stopped: Promise<boolean> | undefined;

  const release = () => closeAll(webhook, ops, cleanups, CLOSE_DEADLINE_MS, logger);

  return {
    get stopping() {
      return stopping;
    },
    setWebhook: (app) => {
      webhook = app;
    },
    setOps: (app) => {
      ops = app;
    },
    onRelease: (cleanup) => {
      cleanups.push(cleanup);
    },
    stop(drainSeconds = 0) {
      stopping = true;
      stopped ??= (async () => {
        // The kubelet sends SIGTERM when the pod turns Terminating; the endpoint is removed asynchronously, and until
        // the apiserver and kube-proxy have caught up, reviews still arrive here and must be answered (the readiness
        // check already fails). Each response tells its client to reconnect, which lands on another endpoint.
        logger.info({ drainDelaySeconds: drainSeconds }, 'shutting down');
        await sleep(drainSeconds * 1000);
        logger.info('drain over, closing');
        const clean = await release();
        logger.info({ clean }, 'stopped');
        return clean;
      })();
      return stopped;
    },
    abort() {
      stopping = true;
      stopped ??= release();
      return stopped;
    },
  };
}

/**
 * THE closer: the webhook (stops accepting, closes idle keep-alive connections; in-flight reviews finish, and their
 * responses carry `Connection: close`), then ops (probes and scrapes can be cut; /readyz kept answering 503 until
 * now), then `cleanups` in reverse order. Connections still open at the deadline are cut. Resolves true when
 * everything closed in time.
 */
async function closeAll(
  webhook: FastifyInstance | undefined,
  ops: FastifyInstance | undefined,
  cleanups: Array<() => unknown>,
  deadlineMs: number,
  logger: Logger,
): Promise<boolean> {
  let clean = true;
  const deadline = setTimeout(() => {
    clean = false;
    logger.error({ deadlineMs }, 'close deadline passed, cutting the remaining connections');
    webhook?.server.closeAllConnections();
    ops?.server.closeAllConnections();
  }, deadlineMs);
  const steps: Array<() => unknown> = [];
  if (webhook) steps.push(() => webhook.close());
  if (ops) {
    steps.push(() => {
      const closed = ops.close();
      ops.server.closeAllConnections();
      return closed;
    });
  }
  for (const cleanup of cleanups.splice(0).reverse()) steps.push(cleanup);
  for (const step of steps) {
    try {
      await step();
    } catch {
      // Best effort: the rest still has to be released.
    }
  }
  clearTimeout(deadline);
  return clean;
}
