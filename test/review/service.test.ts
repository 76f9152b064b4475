/**
 * The review service's two paths to a namespace: a source that has the answer at hand (`cached`) is answered
 * synchronously — no promise, no deadline timer — and anything else goes through `lookup` with the deadline. Both give
 * the same outcome.
 */
import { describe, expect, it, vi } from 'vitest';
import { parseAdmissionReview } from '../../src/admission/review.ts';
import type { NamespaceInfo } from '../../src/core/types.ts';
import type { NamespaceLookup, NamespaceSource } from '../../src/namespaces/source.ts';
import { createReviewService, isPromise } from '../../src/review/service.ts';
import { exampleConfig } from '../support/engine.ts';
import { exampleReview } from '../support/webhook.ts';

const shop: NamespaceInfo = { name: 'shop', labels: { 'dns-tuner.io/policy': 'default' }, annotations: {} };

function source(
  lookup: (name: string) => Promise<NamespaceLookup>,
  cached?: NamespaceSource['cached'],
): NamespaceSource {
  return {
    lookup,
    ...(cached ? { cached } : {}),
    status: () => ({ ready: true, size: 1 }),
    entries: () => [shop],
    start: async () => {},
    stop: async () => {},
  };
}

function request() {
  const parsed = parseAdmissionReview(exampleReview());
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.request;
}

describe('createReviewService', () => {
  it('answers a cached namespace synchronously, without the lookup and its timer', () => {
    const lookup = vi.fn(async () => ({ found: true, namespace: shop }) as NamespaceLookup);
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      const service = createReviewService({
        getConfig: exampleConfig,
        namespaces: source(lookup, (name) => (name === 'shop' ? { found: true, namespace: shop } : undefined)),
      });
      const outcome = service.review(request());
      expect(isPromise(outcome)).toBe(false);
      expect(outcome).toMatchObject({ decision: 'mutated', reason: 'policy-applied', policy: 'default' });
      expect(lookup).not.toHaveBeenCalled();
      expect(timers).not.toHaveBeenCalled();
    } finally {
      timers.mockRestore();
    }
  });

  it('looks up a namespace the source does not have at hand, with the deadline, to the same outcome', async () => {
    const lookup = vi.fn(async () => ({ found: true, namespace: shop }) as NamespaceLookup);
    const cachedService = createReviewService({
      getConfig: exampleConfig,
      namespaces: source(lookup, () => ({ found: true, namespace: shop })),
    });
    for (const cached of [undefined, () => undefined]) {
      const service = createReviewService({ getConfig: exampleConfig, namespaces: source(lookup, cached) });
      const pending = service.review(request());
      expect(isPromise(pending)).toBe(true);
      expect(await pending).toEqual(cachedService.review(request()));
    }
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('admits the pod unchanged when the lookup misses its deadline or fails', async () => {
    const hung = createReviewService({
      getConfig: exampleConfig,
      namespaces: source(() => new Promise(() => {})),
      lookupTimeoutMs: 20,
    });
    expect(await hung.review(request())).toMatchObject({ decision: 'skipped', reason: 'namespace-unavailable' });
    const failing = createReviewService({
      getConfig: exampleConfig,
      namespaces: source(async () => {
        throw new Error('boom');
      }),
    });
    expect(await failing.review(request())).toMatchObject({ decision: 'error', detail: 'boom' });
  });
});
