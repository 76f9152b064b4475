/**
 * The webhook's JSON fast path (src/http/json-body.ts) never disagrees with Fastify's parser (secure-json-parse with
 * proto and constructor poisoning as errors): over random JSON, JSON with suspect keys written every way the escapes
 * allow, and text that is not JSON, it returns either exactly what secure-json-parse returns or undefined (the body
 * then goes to Fastify's parser); it returns undefined whenever secure-json-parse would refuse the body.
 */
import fc from 'fast-check';
import secureJson from 'secure-json-parse';
import { describe, expect, it } from 'vitest';
import { parseCleanJson } from '../../src/http/json-body.ts';

const OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

function secure(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: secureJson.parse(text, undefined, OPTIONS) };
  } catch {
    return { ok: false };
  }
}

/** A key's letters, each maybe \u-escaped (upper or lower hex), as a JSON text spells it. */
const spelled = (word: string) =>
  fc.array(fc.constantFrom('plain', 'lower', 'upper'), { minLength: word.length, maxLength: word.length }).map((how) =>
    [...word]
      .map((c, i) => {
        const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
        return how[i] === 'plain' ? c : `\\u${how[i] === 'upper' ? hex.toUpperCase() : hex}`;
      })
      .join(''),
  );

const suspectText = fc
  .tuple(
    fc.oneof(spelled('__proto__'), spelled('constructor'), fc.constantFrom('prototype', 'proto', 'constructors')),
    fc.oneof(fc.json({ maxDepth: 2 }), fc.constant('{"prototype":{"x":1}}')),
    fc.constantFrom('', ' ', '\n  '),
    fc.boolean(),
  )
  .map(([key, value, space, nested]) => {
    const member = `"${key}"${space}:${value}`;
    return nested ? `{"request":{"a":1,${member}}}` : `{${member}}`;
  });

const text = fc.oneof(
  fc.json({ maxDepth: 4 }),
  suspectText,
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '\uFEFF{"a":1}', '{"a":', 'null', '"x"', '[1,{"__proto__":1}]'),
);

describe('parseCleanJson', () => {
  it('agrees with secure-json-parse, or leaves the body to it', () => {
    fc.assert(
      fc.property(text, (body) => {
        const fast = parseCleanJson(body);
        const reference = secure(body);
        if (!reference.ok) expect(fast).toBeUndefined();
        else if (fast !== undefined) expect(fast).toStrictEqual(reference.value);
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the fast path for real reviews and refuses nothing it should not', () => {
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      request: { object: { spec: { a: '\u0026' } } },
    });
    expect(parseCleanJson(review)).toEqual(JSON.parse(review));
    for (const poisoned of ['{"__proto__":{}}', '{"\\u005f_proto__" :1}', '{"a":{"constructor":{"prototype":{}}}}']) {
      expect(parseCleanJson(poisoned)).toBeUndefined();
      expect(secure(poisoned).ok).toBe(false);
    }
    // A constructor key without a prototype is allowed, by secure-json-parse after the fallback.
    expect(parseCleanJson('{"constructor":{"name":"x"}}')).toBeUndefined();
    expect(secure('{"constructor":{"name":"x"}}')).toEqual({ ok: true, value: { constructor: { name: 'x' } } });
  });
});
