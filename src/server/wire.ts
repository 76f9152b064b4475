/**
 * The wiring factory: the review service (instrumented with metrics and the per-review log line), the dry-run
 * service and the webhook app, from their adapters. The composition root (./start.ts), the benchmarks and the tests
 * all build the webhook through this one function, so what they measure and test is what runs.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ClusterFactsReader } from '../cluster/source.ts';
import type { Config } from '../core/types.ts';
import { createDryRunService, type DryRunService } from '../dryrun/service.ts';
import { createYamlIsolate } from '../dryrun/yaml-isolate.ts';
import { buildWebhookApp, type WebhookAppOptions } from '../http/webhook-app.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { NamespaceSource } from '../namespaces/source.ts';
import { instrumentReviews } from '../review/instrumented.ts';
import { createReviewService, type ReviewService } from '../review/service.ts';

export interface WebhookDeps {
  logger: Logger;
  /** Called once per review, so a reloaded config applies to the next pod. */
  getConfig: () => Config;
  namespaces: NamespaceSource;
  /** What the cluster says about DNS; absent: nothing, the config is trusted. */
  clusterFacts?: ClusterFactsReader | undefined;
  metrics: Metrics;
  lookupTimeoutMs?: number | undefined;
  https?: WebhookAppOptions['https'];
  closeConnections?: WebhookAppOptions['closeConnections'];
  bodyLimit?: number | undefined;
  bodyBytesInFlight?: number | undefined;
  timeouts?: WebhookAppOptions['timeouts'];
}

export interface Webhook {
  app: FastifyInstance;
  reviews: ReviewService;
  dryRun: DryRunService;
}

export function wireWebhook(deps: WebhookDeps): Webhook {
  const { logger, getConfig, namespaces, clusterFacts, metrics, lookupTimeoutMs } = deps;
  const reviews = instrumentReviews(
    createReviewService({ getConfig, namespaces, clusterFacts, lookupTimeoutMs }),
    metrics,
    logger,
  );
  const dryRun = createDryRunService({
    getConfig,
    namespaces,
    clusterFacts,
    lookupTimeoutMs,
    yaml: createYamlIsolate(),
  });
  const app = buildWebhookApp({
    logger,
    reviews,
    dryRun,
    metrics,
    https: deps.https,
    closeConnections: deps.closeConnections,
    ...(deps.bodyLimit !== undefined ? { bodyLimit: deps.bodyLimit } : {}),
    ...(deps.bodyBytesInFlight !== undefined ? { bodyBytesInFlight: deps.bodyBytesInFlight } : {}),
    ...(deps.timeouts !== undefined ? { timeouts: deps.timeouts } : {}),
  });
  return { app, reviews, dryRun };
}
