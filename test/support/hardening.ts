/**
 * Hostile input for the webhook's HTTP endpoints, and the checks every answer must pass. Shared by the hardening
 * suite (test/hardening/*) so that a new endpoint is fuzzed by adding one `FuzzEndpoint` line there.
 *
 * Every generator yields a `FuzzCase`: the exact request body (a string, or bytes when the point is invalid UTF-8)
 * and its content type. Bodies are built as text where JSON.stringify cannot express the attack (duplicate or
 * `__proto__` keys, 10k-deep nesting).
 */

import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { expect } from 'vitest';
import { exampleReview, type Json } from '../../lab/review.ts';
import { MAX_WARNING_CHARS } from '../../src/core/warnings.ts';
import { ERRORS } from '../../src/errors.ts';
import { INTERNAL_ERROR_WARNING } from '../../src/review/service.ts';

export interface FuzzCase {
  /** Which generator made it (shown when a property fails). */
  kind: string;
  body: string | Buffer;
  /** Defaults to application/json; '' sends no content-type header. */
  contentType?: string;
}

/**
 * A case with a short description for fast-check's failure report (`kind`, size, and the body's start), instead of
 * a multi-megabyte body.
 */
export function describedCase(c: FuzzCase): FuzzCase {
  const text = typeof c.body === 'string' ? c.body : c.body.toString('utf8');
  const description = `${c.kind} (${Buffer.byteLength(c.body)} bytes${c.contentType === undefined ? '' : `, ${JSON.stringify(c.contentType)}`}): ${JSON.stringify(text.slice(0, 200))}${text.length > 200 ? '…' : ''}`;
  return Object.defineProperty(c, fc.toStringMethod, { value: () => description, enumerable: false });
}

export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** One endpoint under fuzz: where to POST and what every answer from it must satisfy. */
export interface FuzzEndpoint {
  path: string;
  check: (sent: FuzzCase, answer: Answer) => void;
}

export const JSON_TYPE = 'application/json';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

const REVIEW_TEXT = JSON.stringify(exampleReview());

function review(): Json & { request: Json & { object: Json & { metadata: Json; spec: Json } } } {
  return JSON.parse(REVIEW_TEXT);
}

/** Strings that break naive code: lone and reversed surrogates, bidi controls, ZWJ emoji, NUL, BOM, separators. */
const NASTY_STRINGS = [
  '\ud800',
  '\udfff',
  '\udc00\ud800',
  'a\ud83d',
  '\u202eevil\u202c',
  '\u200fשלום\u200e',
  'مرحبا بالعالم',
  '👩‍👩‍👧‍👦',
  '🇺🇳',
  '\u0000',
  '\ufeff',
  '\u2028\u2029',
  'e\u0301\u0301\u0301',
  '\uffff\ufffe',
  '\ufffd',
  '%00%ff',
  '\\u0000',
  '"},{"',
  '~1~0/',
  'ndots:2\u0000timeout:1',
  ' '.repeat(200),
];

const nastyString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** The annotation keys the engine reads, and values near their grammar. */
const DNS_TUNER_KEYS = [
  'dns-tuner.io/ndots',
  'dns-tuner.io/options',
  'dns-tuner.io/node-local',
  'dns-tuner.io/fallback',
  'dns-tuner.io/mode',
  'dns-tuner.io/pod-overrides',
  'dns-tuner.io/skip',
  'dns-tuner.io/applied',
  'dns-tuner.io/policy',
];
const annotationValue = fc.oneof(
  fc.constantFrom(
    '0',
    '2',
    '15',
    '16',
    '-1',
    '99999999999999999999',
    '2.5',
    ' 3 ',
    'true',
    'false',
    'TRUE',
    'dry-run',
    'enforce',
    'timeout:1',
    'timeout:1,attempts:2',
    '-ndots',
    'ndots:2',
    'single-request-reopen',
    'timeout:',
    ':1',
    ',,,',
    '-',
    'edns0,-edns0,edns0',
    'a'.repeat(300),
  ),
  nastyString,
);

const anyJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

const weirdScalar = fc.constantFrom<unknown>(null, 0, -1, 1.5, 1e308, true, false, '', 'x', [], [null], {}, { a: 1 });

// ---------------------------------------------------------------------------------------------------------------
// Generators

/** Any JSON document at all, and arbitrary text labelled as JSON. */
export const randomJson: fc.Arbitrary<FuzzCase> = fc.oneof(
  anyJson.map((v) => ({ kind: 'random-json', body: JSON.stringify(v) })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ({ kind: 'random-text', body: s })),
);

/** A valid review's text truncated, spliced or corrupted; or random bytes. */
export const malformedJson: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.nat({ max: REVIEW_TEXT.length - 1 }).map((n) => ({ kind: 'truncated', body: REVIEW_TEXT.slice(0, n) })),
  fc
    .tuple(fc.nat({ max: REVIEW_TEXT.length }), fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', 'x', '\u0000'))
    .map(([n, ch]) => ({ kind: 'spliced', body: REVIEW_TEXT.slice(0, n) + ch + REVIEW_TEXT.slice(n) })),
  fc
    .nat({ max: REVIEW_TEXT.length - 1 })
    .map((n) => ({ kind: 'char-dropped', body: REVIEW_TEXT.slice(0, n) + REVIEW_TEXT.slice(n + 1) })),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: 'random-bytes', body: Buffer.from(b) })),
  fc
    .constantFrom(
      'text/plain',
      'application/yaml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'Application/JSON',
      'application/json;charset=UTF-8',
      '',
    )
    .map((contentType) => ({ kind: 'content-type', body: REVIEW_TEXT, contentType })),
);

/** A pod whose every field the engine reads is random, near-valid or hostile. */
const podLike: fc.Arbitrary<Json> = fc.record(
  {
    apiVersion: fc.constantFrom('v1', 'v2', ''),
    kind: fc.constantFrom('Pod', 'Deployment'),
    metadata: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record(
          {
            name: nastyString,
            generateName: nastyString,
            namespace: fc.constantFrom('shop', 'payments', 'staging', 'legacy', 'nowhere', ''),
            annotations: fc.oneof(
              fc.constant(null),
              fc.dictionary(fc.oneof(fc.constantFrom(...DNS_TUNER_KEYS), nastyString), annotationValue, {
                maxKeys: 6,
              }),
            ),
            labels: fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: weirdScalar },
    ),
    spec: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record(
          {
            dnsPolicy: fc.oneof(
              {
                weight: 4,
                arbitrary: fc.constantFrom(
                  'ClusterFirst',
                  'ClusterFirstWithHostNet',
                  'Default',
                  'None',
                  '',
                  'clusterfirst',
                ),
              },
              { weight: 1, arbitrary: nastyString },
            ),
            hostNetwork: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true), fc.constant(null)),
            os: fc.oneof(fc.constant({ name: 'linux' }), fc.constant({ name: 'windows' }), fc.constant(null)),
            dnsConfig: fc.oneof(
              fc.constant(null),
              fc.record(
                {
                  nameservers: fc.array(fc.oneof(fc.constantFrom('10.96.0.10', '169.254.20.10', '::1'), nastyString), {
                    maxLength: 5,
                  }),
                  searches: fc.array(fc.oneof(fc.constantFrom('svc.cluster.local', 'example.com'), nastyString), {
                    maxLength: 8,
                  }),
                  options: fc.array(
                    fc.record(
                      {
                        name: fc.oneof(fc.constantFrom('ndots', 'timeout', 'attempts', 'edns0', 'rotate'), nastyString),
                        value: fc.oneof(fc.constantFrom('1', '5', '15', '99'), nastyString, fc.constant(null)),
                      },
                      { requiredKeys: ['name'] },
                    ),
                    { maxLength: 5 },
                  ),
                },
                { requiredKeys: [] },
              ),
            ),
            containers: fc.array(fc.record({ name: nastyString, image: nastyString }), { maxLength: 2 }),
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: weirdScalar },
    ),
  },
  { requiredKeys: [] },
);

/** Well-formed envelopes around random objects: pod-like ones (reach the engine) and arbitrary ones. */
export const randomObjectEnvelope: fc.Arbitrary<FuzzCase> = fc
  .record({
    uid: fc.oneof(
      fc.uuid(),
      nastyString.filter((s) => s.length > 0),
    ),
    // Mostly what reaches the engine (an opted-in namespace, CREATE, no subresource), the rest hostile.
    namespace: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('shop', 'payments', 'staging') },
      { weight: 1, arbitrary: fc.constantFrom('legacy', 'nowhere', '') },
      { weight: 1, arbitrary: nastyString },
    ),
    operation: fc.oneof(
      { weight: 4, arbitrary: fc.constant('CREATE') },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('UPDATE', 'CONNECT', 'create'), nastyString) },
    ),
    subResource: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom('status', 'ephemeralcontainers', '') },
    ),
    dryRun: fc.option(fc.boolean(), { nil: undefined }),
    object: fc.oneof(
      { weight: 3, arbitrary: podLike },
      { weight: 1, arbitrary: fc.dictionary(nastyString, anyJson, { maxKeys: 5 }) },
    ),
  })
  .map(({ uid, namespace, operation, subResource, dryRun, object }) => {
    const r = review();
    Object.assign(r.request, { uid, namespace, operation, object });
    if (subResource !== undefined) r.request.subResource = subResource;
    if (dryRun !== undefined) r.request.dryRun = dryRun;
    return { kind: 'random-object', body: JSON.stringify(r) };
  });

type Review = ReturnType<typeof review>;

/** The objects of the example review a hostile key or value is put into (created when the pod lacks them). */
const CONTAINERS: Record<string, (r: Review) => Json> = {
  top: (r) => r,
  request: (r) => r.request,
  object: (r) => r.request.object,
  metadata: (r) => r.request.object.metadata,
  annotations: (r) => r.request.object.metadata.annotations as Json,
  spec: (r) => r.request.object.spec,
  dnsConfig: (r) => {
    r.request.object.spec.dnsConfig ??= { options: [{ name: 'ndots', value: '2' }] };
    return r.request.object.spec.dnsConfig as Json;
  },
  'dnsConfig.options[0]': (r) => {
    const dnsConfig = CONTAINERS.dnsConfig!(r) as { options: Json[] };
    return dnsConfig.options[0]!;
  },
  container: (r) => (r.request.object.spec.containers as Json[])[0]!,
};
const containerNames = Object.keys(CONTAINERS);
/** Keys under which a hostile value goes: an unknown one, and ones the envelope, pod view or engine read. */
const VALUE_KEYS = ['extra', 'dnsPolicy', 'options', 'dns-tuner.io/options', 'object', 'metadata', 'spec', 'name'];

/** The example review with raw JSON text at `container[key]`, where JSON.stringify could not put it. */
function withRawText(container: string, key: string, rawValue: string): string {
  const r = review();
  CONTAINERS[container]!(r)[key] = '@@RAW@@';
  return JSON.stringify(r).replace('"@@RAW@@"', () => rawValue);
}

const DEEP_SHAPES = ['array', 'object', 'mixed'] as const;

function deepText(shape: (typeof DEEP_SHAPES)[number], depth: number): string {
  const open = shape === 'array' ? '[' : shape === 'object' ? '{"a":' : '[{"a":';
  const close = shape === 'array' ? ']' : shape === 'object' ? '}' : '}]';
  const reps = shape === 'mixed' ? depth >> 1 : depth;
  return `${open.repeat(reps)}${shape === 'array' ? '' : '1'}${close.repeat(reps)}`;
}

function deepCase(shape: (typeof DEEP_SHAPES)[number], depth: number, container: string, key: string): FuzzCase {
  return {
    kind: `deep-${shape}(${depth}) at ${container}.${key}`,
    body: withRawText(container, key, deepText(shape, depth)),
  };
}

/** Arrays or objects nested thousands deep at every place (each level costs a recursive walker a stack frame). */
export const deepNesting: fc.Arbitrary<FuzzCase> = fc
  .record({
    depth: fc.integer({ min: 1_000, max: 60_000 }),
    shape: fc.constantFrom(...DEEP_SHAPES),
    container: fc.constantFrom(...containerNames),
    key: fc.constantFrom(...VALUE_KEYS),
  })
  .map(({ depth, shape, container, key }) => deepCase(shape, depth, container, key));

/**
 * Every place × key × shape at one depth, and the whole body as a deep array and object: the places are few, so
 * they are enumerated rather than sampled (a 20k-deep array in `request.name` once answered 500).
 */
export function deepNestingCases(depth: number): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const shape of DEEP_SHAPES) {
    cases.push({ kind: `deep-${shape}(${depth}) as the body`, body: deepText(shape, depth) });
    for (const container of containerNames)
      for (const key of VALUE_KEYS) cases.push(deepCase(shape, depth, container, key));
  }
  return cases;
}

const STRING_PLACES: Record<string, (r: ReturnType<typeof review>, s: string) => void> = {
  uid: (r, s) => {
    r.request.uid = s;
  },
  namespace: (r, s) => {
    r.request.namespace = s;
    r.request.object.metadata.namespace = s;
  },
  name: (r, s) => {
    r.request.object.metadata.generateName = s;
  },
  annotation: (r, s) => {
    (r.request.object.metadata.annotations as Json)['example.com/big'] = s;
  },
  'dns-tuner-annotation': (r, s) => {
    (r.request.object.metadata.annotations as Json)['dns-tuner.io/options'] = s;
  },
  dnsPolicy: (r, s) => {
    r.request.object.spec.dnsPolicy = s;
  },
  search: (r, s) => {
    r.request.object.spec.dnsConfig = { searches: [s] };
  },
  option: (r, s) => {
    r.request.object.spec.dnsConfig = { options: [{ name: 'timeout', value: s }] };
  },
  image: (r, s) => {
    ((r.request.object.spec.containers as Json[])[0] as Json).image = s;
  },
};

/** Strings of up to ~2.9 MiB (under the 3 MiB body limit) in every string field, in 1- to 4-byte characters. */
export function hugeString(bodyLimit: number): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      unit: fc.constantFrom('x', 'é', '€', '😀', '\u202e'),
      fraction: fc.double({ min: 0.05, max: 0.97, noNaN: true }),
      place: fc.constantFrom(...Object.keys(STRING_PLACES)),
    })
    .map(({ unit, fraction, place }) => {
      const budget = bodyLimit - Buffer.byteLength(REVIEW_TEXT) - 1024;
      const count = Math.floor((budget * fraction) / Buffer.byteLength(unit));
      const r = review();
      STRING_PLACES[place]!(r, unit.repeat(count));
      return { kind: `huge-${place}`, body: JSON.stringify(r) };
    });
}

/** Unicode everywhere a person or a controller can write text: annotations, names, namespaces, DNS fields. */
export const unicodeFields: fc.Arbitrary<FuzzCase> = fc
  .record({
    annotations: fc.dictionary(fc.oneof(fc.constantFrom(...DNS_TUNER_KEYS), nastyString), nastyString, {
      minKeys: 1,
      maxKeys: 6,
    }),
    place: fc.constantFrom(...Object.keys(STRING_PLACES)),
    text: nastyString,
  })
  .map(({ annotations, place, text }) => {
    const r = review();
    Object.assign(r.request.object.metadata.annotations as Json, annotations);
    STRING_PLACES[place]!(r, text);
    return { kind: `unicode-${place}`, body: JSON.stringify(r) };
  });

/** Raw bytes that are not UTF-8 inside string values (the body is decoded with replacement characters). */
export const invalidUtf8: fc.Arbitrary<FuzzCase> = fc
  .record({
    bytes: fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xe2, 0x82],
      [0x80],
    ),
    place: fc.constantFrom('annotation', 'namespace', 'uid', 'dnsPolicy'),
  })
  .map(({ bytes, place }) => {
    const r = review();
    STRING_PLACES[place]!(r, '@@BYTES@@');
    const [before, after] = JSON.stringify(r).split('@@BYTES@@') as [string, string];
    return {
      kind: `invalid-utf8-${place}`,
      body: Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]),
    };
  });

/** Keys that poison prototypes, written literally (and \u-escaped) into the JSON text at every level. */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', '\\u005f\\u005fproto\\u005f\\u005f', '__proto\\u005f_'];
const PROTO_VALUES = [
  '{"polluted":"yes"}',
  '{"prototype":{"polluted":"yes"}}',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"toString":"x","valueOf":1,"hasOwnProperty":null}',
  '"polluted"',
  '[]',
  'null',
];

export const prototypeKeys: fc.Arbitrary<FuzzCase> = fc
  .array(
    fc.record({
      container: fc.constantFrom(...containerNames),
      key: fc.constantFrom(...PROTO_KEYS),
      value: fc.constantFrom(...PROTO_VALUES),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((insertions) => {
    const r = review();
    insertions.forEach((ins, i) => {
      CONTAINERS[ins.container]!(r)[`@@KEY${i}@@`] = `@@VALUE${i}@@`;
    });
    let text = JSON.stringify(r);
    insertions.forEach((ins, i) => {
      text = text.replace(`"@@KEY${i}@@"`, () => `"${ins.key}"`).replace(`"@@VALUE${i}@@"`, () => ins.value);
    });
    return { kind: `proto ${insertions.map((i) => `${i.container}[${i.key}]=${i.value}`).join(' + ')}`, body: text };
  });

/** Every field of the example review (envelope and pod) replaced by each wrong type in turn, or deleted. */
export function wrongTypeCases(): FuzzCase[] {
  const paths: Array<Array<string | number>> = [];
  const walk = (value: unknown, path: Array<string | number>) => {
    if (path.length > 0) paths.push(path);
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...path, i]);
    } else if (typeof value === 'object' && value !== null)
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  walk(review(), []);
  const replacements: unknown[] = [null, 0, -1, 1.5, 1e308, true, false, '', 'x', [], [null], {}, { a: 1 }];
  const cases: FuzzCase[] = [];
  for (const path of paths) {
    for (const replacement of [...replacements, DELETE]) {
      const r = review() as Json;
      let parent: Json | unknown[] = r;
      for (const step of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[step] as Json;
      const last = path.at(-1)!;
      if (replacement === DELETE) {
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete parent[last as string];
      } else (parent as Record<string | number, unknown>)[last] = replacement;
      const label = replacement === DELETE ? 'deleted' : JSON.stringify(replacement);
      cases.push({ kind: `wrong-type ${path.join('.')}=${label}`, body: JSON.stringify(r) });
    }
  }
  return cases;
}
const DELETE = Symbol('delete');

// ---------------------------------------------------------------------------------------------------------------
// Checks

function header(answer: Answer, name: string): string {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : String(value ?? '');
}

/** The JSON the server saw, or undefined when the body is not JSON (a 200 for it would be wrong). */
function sentJson(sent: FuzzCase): unknown {
  try {
    return JSON.parse(typeof sent.body === 'string' ? sent.body : sent.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A 4xx answer is one of our coded errors, as JSON: `{code: DNS_TUNER_*, message, statusCode}`. */
export function checkCodedError(sent: FuzzCase, answer: Answer): void {
  const where = `${sent.kind}: ${answer.statusCode} ${answer.body.slice(0, 300)}`;
  expect(answer.statusCode, where).toBeGreaterThanOrEqual(400);
  expect(answer.statusCode, where).toBeLessThan(500);
  expect(header(answer, 'content-type'), where).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { code: string; message: unknown; statusCode: unknown };
  expect(Object.keys(body).sort(), where).toEqual(['code', 'message', 'statusCode']);
  expect(Object.hasOwn(ERRORS, body.code), where).toBe(true);
  expect(body.statusCode, where).toBe(answer.statusCode);
  expect(ERRORS[body.code as keyof typeof ERRORS].statusCode, where).toBe(answer.statusCode);
  expect(typeof body.message, where).toBe('string');
}

/** Patch paths dns-tuner may write: dnsPolicy, dnsConfig, its own annotation (and the parents it must create). */
const PATCHABLE = /^\/(metadata(\/annotations(\/dns-tuner\.io~1applied)?)?|spec(\/dnsPolicy|\/dnsConfig(\/.*)?)?)$/;
const RESPONSE_KEYS = new Set(['uid', 'allowed', 'patch', 'patchType', 'warnings', 'auditAnnotations']);

/**
 * What /mutate must answer to anything: a 200 AdmissionReview that echoes the uid, allows the pod, carries a patch
 * and its patchType together or neither, and whose patch is a JSON array that applies to the object sent and only
 * touches DNS fields — or one of the coded 4xx errors. Never a 5xx.
 */
export function checkMutateAnswer(sent: FuzzCase, answer: Answer): void {
  const where = `${sent.kind}: ${answer.statusCode} ${answer.body.slice(0, 300)}`;
  expect(answer.statusCode, where).toBeLessThan(500);
  if (answer.statusCode !== 200) {
    checkCodedError(sent, answer);
    return;
  }
  const sentValue = sentJson(sent) as { request?: { uid?: unknown } } | undefined;
  expect(sentValue, `${where}: 200 for a body that is not JSON`).toBeDefined();
  expect(header(answer, 'content-type'), where).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { apiVersion: unknown; kind: unknown; response: Json };
  expect(body.apiVersion, where).toBe('admission.k8s.io/v1');
  expect(body.kind, where).toBe('AdmissionReview');
  const response = body.response;
  expect(response.uid, where).toBe(sentValue?.request?.uid);
  expect(response.allowed, where).toBe(true);
  for (const key of Object.keys(response)) expect(RESPONSE_KEYS.has(key), `${where}: unexpected key ${key}`).toBe(true);
  expect('patch' in response, `${where}: patch and patchType go together`).toBe('patchType' in response);
  if (response.warnings !== undefined) {
    expect(Array.isArray(response.warnings), where).toBe(true);
    for (const w of response.warnings as unknown[]) {
      expect(typeof w, where).toBe('string');
      expect(Array.from(w as string).length, where).toBeLessThanOrEqual(MAX_WARNING_CHARS);
    }
    expect(response.warnings as string[], `${where}: dns-tuner failed internally`).not.toContain(
      INTERNAL_ERROR_WARNING,
    );
  }
  if (response.auditAnnotations !== undefined) {
    for (const v of Object.values(response.auditAnnotations as Json)) expect(typeof v, where).toBe('string');
  }
  if (response.patch === undefined) return;
  expect(response.patchType, where).toBe('JSONPatch');
  expect(typeof response.patch, where).toBe('string');
  const ops = JSON.parse(Buffer.from(response.patch as string, 'base64').toString('utf8')) as unknown;
  expect(Array.isArray(ops), where).toBe(true);
  for (const op of ops as Array<{ op?: unknown; path?: unknown }>) {
    expect(['add', 'replace', 'remove'], where).toContain(op.op);
    expect(op.path, where).toMatch(PATCHABLE);
  }
  // Applied as the apiserver does, to the object that was sent (a fresh parse: no clone of a deep object needed).
  const object = (sentJson(sent) as { request: { object: Json } }).request.object;
  expect(() => jsonpatch.applyPatch(object, ops as jsonpatch.Operation[], true, true), where).not.toThrow();
}

/** Own property names of the built-in prototypes a poisoned key would reach. */
export function prototypeSnapshot(): Record<string, string[]> {
  return {
    Object: Object.getOwnPropertyNames(Object.prototype).sort(),
    Array: Object.getOwnPropertyNames(Array.prototype).sort(),
    Function: Object.getOwnPropertyNames(Function.prototype).sort(),
  };
}

export function expectPrototypesUntouched(before: Record<string, string[]>): void {
  expect(prototypeSnapshot()).toEqual(before);
  expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  expect(([] as unknown as { polluted?: unknown }).polluted).toBeUndefined();
}
