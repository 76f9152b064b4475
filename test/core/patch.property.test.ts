/**
 * The engine's diff (src/core/patch.ts) is fast-json-patch's `compare`, operation for operation and byte for byte:
 * over random JSON objects edited copy-on-write the way the engine edits a pod (objects on the path to a change
 * copied, everything else shared), and over unrelated pairs.
 */
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { diff } from '../../src/core/patch.ts';

type Json = Record<string, unknown>;

const key = fc.oneof(fc.constantFrom('a', 'b', 'spec', 'x/y', 'm~n', '~/', '0', '1', ''), fc.string({ maxLength: 6 }));
const json = fc.jsonValue({ maxDepth: 4 });
const object = fc.dictionary(key, json, { maxKeys: 6 });

type Edit = { path: string[]; change: 'set' | 'delete' | 'undefined'; value: unknown };
const edit = fc.record({
  path: fc.array(key, { minLength: 1, maxLength: 4 }),
  change: fc.constantFrom('set', 'delete', 'undefined') as fc.Arbitrary<Edit['change']>,
  value: fc.oneof(json, object, fc.array(json, { maxLength: 4 })),
});

/** Applies edits copy-on-write: every container on an edit's path is copied, the rest of `root` is shared. */
function copyOnWrite(root: Json, edits: readonly Edit[]): Json {
  const copy: Json = { ...root };
  for (const { path, change, value } of edits) {
    let parent: Record<string, unknown> | unknown[] = copy;
    for (const step of path.slice(0, -1)) {
      const next: unknown = (parent as Record<string, unknown>)[step];
      if (typeof next !== 'object' || next === null) break;
      const copied: Json | unknown[] = Array.isArray(next) ? [...next] : { ...(next as Json) };
      (parent as Record<string, unknown>)[step] = copied;
      parent = copied;
    }
    const last = path.at(-1)!;
    const target = parent as Record<string, unknown>;
    if (change === 'delete') delete target[last];
    else target[last] = change === 'undefined' ? undefined : value;
  }
  return copy;
}

const same = (before: Json, after: Json) =>
  expect(JSON.stringify(diff(before, after))).toBe(JSON.stringify(jsonpatch.compare(before, after)));

describe('diff', () => {
  it('is fast-json-patch compare for copy-on-write edits', () => {
    fc.assert(
      fc.property(object, fc.array(edit, { maxLength: 5 }), (before, edits) => {
        same(before, copyOnWrite(before, edits));
      }),
      { numRuns: 2000 },
    );
  });

  it('is fast-json-patch compare for unrelated objects', () => {
    fc.assert(
      fc.property(object, object, (before, after) => {
        same(before, after);
      }),
      { numRuns: 2000 },
    );
  });

  it('skips what both sides share, and escapes keys in paths', () => {
    const shared = { big: Array.from({ length: 3 }, (_, i) => ({ i })) };
    const before = { spec: shared, metadata: { annotations: { a: '1' } } };
    const after = { spec: shared, metadata: { annotations: { a: '1', 'dns-tuner.io/applied': 'x', 'm~n': 'y' } } };
    expect(diff(before, after)).toEqual([
      { op: 'add', path: '/metadata/annotations/dns-tuner.io~1applied', value: 'x' },
      { op: 'add', path: '/metadata/annotations/m~0n', value: 'y' },
    ]);
    expect(diff(before, before)).toEqual([]);
  });
});
