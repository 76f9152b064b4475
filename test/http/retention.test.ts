/**
 * /mutate lets go of the parsed body as soon as the review has it: Fastify keeps each request until its answer is
 * written, and under load a young-generation GC would otherwise copy every pending review's parsed body (measured in
 * docs/adr/0012-a-review-costs-little-more-than-reading-it.md).
 */
import { describe, expect, it } from 'vitest';
import { exampleReview } from '../../lab/review.ts';
import { wireWebhook } from '../../src/server/wire.ts';
import { captureLogger, exampleDeps } from '../support/webhook.ts';

describe('POST /mutate', () => {
  it('does not hold the parsed body while the answer is written', async () => {
    const deps = await exampleDeps();
    const { app } = wireWebhook({
      logger: captureLogger().logger,
      getConfig: () => deps.config,
      namespaces: deps.namespaces,
      metrics: deps.metrics,
    });
    const bodies: unknown[] = [];
    app.addHook('onResponse', async (request) => {
      bodies.push(request.body);
    });
    try {
      const res = await app.inject({ method: 'POST', url: '/mutate', payload: exampleReview() });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ response: { allowed: true, patchType: 'JSONPatch' } });
      expect(bodies).toEqual([undefined]);
    } finally {
      await app.close();
    }
  });
});
