/**
 * /mutate answers the golden corpus (test/support/golden.ts) exactly as recorded: status, Content-Type, body bytes,
 * the log lines of each request and the review metrics. The corpus is built in code (deterministic); the fixture
 * holds the answers, each under its request's name.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GOLDEN_FILE, type Golden, goldenCorpus, runGolden } from '../support/golden.ts';

const recorded = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as Golden;
const corpus = goldenCorpus();

describe('the golden corpus', () => {
  it('covers every decision and the refusals', () => {
    const decisions = new Set(recorded.answers.flatMap((a) => a.log.map((l) => l.decision)).filter(Boolean));
    expect(decisions).toEqual(new Set(['mutated', 'unchanged', 'dry-run', 'skipped']));
    expect(new Set(recorded.answers.map((a) => a.status))).toEqual(new Set([200, 400, 404, 415]));
    // Every request of the corpus has its recorded answer (a new case needs a re-recording).
    expect(recorded.answers.map((a) => a.name)).toEqual(corpus.map((r) => r.name));
  });

  it('is answered byte for byte as recorded', async () => {
    const now = await runGolden(corpus);
    for (const [i, answer] of now.answers.entries())
      expect(answer, recorded.answers[i]!.name).toEqual(recorded.answers[i]);
    expect(now.metrics).toEqual(recorded.metrics);
  });
});
