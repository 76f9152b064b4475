/**
 * The YAML worker of /dry-run (src/dryrun/yaml-isolate.ts): a real worker thread with a real heap limit. A body that
 * needs more heap, or more time, than its budget ends the worker and is refused with a coded 413; the next body gets
 * a fresh worker; a full queue is refused as busy; the answers are those of the in-thread reader.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseYamlDocuments, singleDocument } from '../../src/dryrun/input.ts';
import { createYamlIsolate, type YamlIsolate } from '../../src/dryrun/yaml-isolate.ts';

const POD = 'kind: Pod\napiVersion: v1\nmetadata: {name: p, namespace: shop}\nspec:\n  hostNetwork: no\n';
const flow = (bytes: number) => {
  const unit = '{a: 1, b: [x, y], c: {d: e}}, ';
  return `kind: Pod\nk: [${unit.repeat(Math.floor(bytes / unit.length))}]\n`;
};

let isolate: YamlIsolate | undefined;
afterEach(async () => {
  await isolate?.close();
  isolate = undefined;
});

describe('the YAML worker', () => {
  it('answers what the in-thread reader answers, errors included', async () => {
    isolate = createYamlIsolate();
    const inThread = (text: string) => {
      const docs = parseYamlDocuments(text);
      return docs.ok ? singleDocument(docs.value) : docs;
    };
    for (const text of [POD, 'kind: [x\n', 'a: 1\n---\nb: 2\n', 'a: 1\na: 2\n', '']) {
      const got = await isolate.parse(text);
      const want = inThread(text);
      expect(got.ok, text).toBe(want.ok);
      if (got.ok && want.ok) expect(got.value).toEqual(want.value);
      if (!got.ok && !want.ok)
        expect({ code: got.error.code, message: got.error.message }).toEqual({
          code: want.error.code,
          message: want.error.message,
        });
    }
  });

  it('refuses a body that needs more heap than its budget, then parses the next one in a fresh worker', async () => {
    isolate = createYamlIsolate({ heapMb: 16, timeoutMs: 20_000 });
    const heavy = await isolate.parse(flow(400_000));
    expect(heavy.ok).toBe(false);
    if (!heavy.ok) {
      expect(heavy.error.code).toBe('DNS_TUNER_YAML_TOO_COSTLY');
      expect(heavy.error.statusCode).toBe(413);
      expect(heavy.error.message).toMatch(/needs more than 16 MiB/);
    }
    expect(await isolate.parse(POD)).toMatchObject({ ok: true, value: { kind: 'Pod', spec: { hostNetwork: false } } });
  });

  it('refuses a body that takes longer than its deadline', async () => {
    isolate = createYamlIsolate({ heapMb: 256, timeoutMs: 50 });
    const slow = await isolate.parse(flow(600_000));
    expect(slow.ok).toBe(false);
    if (!slow.ok) expect(slow.error.message).toMatch(/takes more than 50 ms to parse/);
    expect((await isolate.parse(POD)).ok).toBe(true);
  });

  it('refuses bodies beyond its queue as busy (503), and answers the others', async () => {
    isolate = createYamlIsolate({ maxWaiting: 2, timeoutMs: 20_000 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => isolate!.parse(POD)));
    const busy = answers.filter((a) => !a.ok);
    expect(answers.filter((a) => a.ok)).toHaveLength(3);
    expect(busy).toHaveLength(2);
    for (const a of busy)
      if (!a.ok) expect([a.error.code, a.error.statusCode]).toEqual(['DNS_TUNER_DRY_RUN_BUSY', 503]);
  });

  it('ends an idle worker and starts a new one for the next body', async () => {
    isolate = createYamlIsolate({ idleMs: 20 });
    expect((await isolate.parse(POD)).ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await isolate.parse(POD)).toMatchObject({ ok: true, value: { metadata: { name: 'p' } } });
  });

  it('refuses everything once closed', async () => {
    isolate = createYamlIsolate();
    await isolate.close();
    const after = await isolate.parse(POD);
    expect(after.ok).toBe(false);
  });
});
