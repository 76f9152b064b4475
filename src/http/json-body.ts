/**
 * The JSON body parser of the webhook app: Fastify's own parser (secure-json-parse: JSON.parse, then a scan for
 * prototype-poisoning keys) answers every body that is empty, not JSON, or holds a suspect key, so each of those gets
 * exactly the error it always got. What is left — a JSON body without a `"__proto__":` or `"constructor":` key, i.e.
 * every real review — is parsed with one JSON.parse and one pass of one regular expression over the text instead of
 * secure-json-parse's two passes of two (~1 µs per KiB of review).
 */

/**
 * secure-json-parse's two suspect-key patterns (any letter may be \u-escaped; github.com/fastify/secure-json-parse
 * index.js suspectProtoRx and suspectConstructorRx) as one alternation: a text matches this iff it matches either.
 */
const SUSPECT_KEY =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:|"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

/**
 * The parsed body when it is a JSON value with no suspect key, else `undefined`: the caller then hands the body to
 * Fastify's parser for the verdict (and the very error) it always gave.
 */
export function parseCleanJson(text: string): unknown {
  if (text.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value === 'object' && value !== null && SUSPECT_KEY.test(text)) return undefined;
  return value;
}
