/**
 * Fuzzing the webhook's HTTP endpoints with hostile AdmissionReviews (generators and checks in
 * test/support/hardening.ts): random and malformed JSON, valid envelopes around random objects, wrong types in every
 * field, 10k-deep nesting, multi-megabyte strings, unicode that breaks naive code, invalid UTF-8 and
 * prototype-poisoning keys at every level. Every answer must be a well-formed 200 or a coded 4xx — never a 5xx, never
 * a crash — the app must still mutate a known-good review afterwards, and no built-in prototype may change.
 *
 * Most cases go through inject() (in-process, fast); a sample of every generator goes over real HTTPS sockets with
 * keep-alive to the same listening app. To fuzz another endpoint, add one line to ENDPOINTS.
 */
import https from 'node:https';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpsPost } from '../../lab/client.ts';
import { SERVICE_NAME } from '../../lab/paths.ts';
import { exampleReview, responseOf } from '../../lab/review.ts';
import { DEFAULT_BODY_LIMIT, MUTATE_PATH } from '../../src/http/webhook-app.ts';
import {
  type Answer,
  checkMutateAnswer,
  deepNesting,
  deepNestingCases,
  describedCase,
  expectPrototypesUntouched,
  type FuzzCase,
  type FuzzEndpoint,
  hugeString,
  invalidUtf8,
  JSON_TYPE,
  malformedJson,
  prototypeKeys,
  prototypeSnapshot,
  randomJson,
  randomObjectEnvelope,
  unicodeFields,
  wrongTypeCases,
} from '../support/hardening.ts';
import { type HttpsWebhook, startHttpsWebhook } from '../support/webhook.ts';

/** The endpoints under fuzz and what each must answer. */
const ENDPOINTS: FuzzEndpoint[] = [{ path: MUTATE_PATH, check: checkMutateAnswer }];

/** Runs per generator: in-process, and over real sockets. Bounded so the whole file stays within seconds. */
const GENERATORS: Array<{ name: string; arbitrary: fc.Arbitrary<FuzzCase>; inject: number; socket: number }> = [
  { name: 'random JSON and text', arbitrary: randomJson, inject: 300, socket: 20 },
  { name: 'malformed JSON, random bytes, wrong content types', arbitrary: malformedJson, inject: 300, socket: 20 },
  { name: 'valid envelopes around random objects', arbitrary: randomObjectEnvelope, inject: 400, socket: 30 },
  { name: 'deep nesting (1k–60k levels) everywhere', arbitrary: deepNesting, inject: 40, socket: 6 },
  {
    name: 'huge strings (up to ~2.9 MiB) in every string field',
    arbitrary: hugeString(DEFAULT_BODY_LIMIT),
    inject: 16,
    socket: 4,
  },
  { name: 'unicode in annotations, names and DNS fields', arbitrary: unicodeFields, inject: 300, socket: 20 },
  { name: 'invalid UTF-8 inside strings', arbitrary: invalidUtf8, inject: 50, socket: 10 },
  { name: 'prototype-poisoning keys at every level', arbitrary: prototypeKeys, inject: 300, socket: 20 },
];

let web: HttpsWebhook;
let agent: https.Agent;
const prototypes = prototypeSnapshot();

beforeAll(async () => {
  // Thousands of review lines are of no interest here; the answers are checked instead.
  web = await startHttpsWebhook({ caName: 'fuzz CA', hosts: [SERVICE_NAME], logs: 'discard' });
  agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
});

afterAll(async () => {
  agent?.destroy();
  await web?.close();
});

afterEach(() => {
  expectPrototypesUntouched(prototypes);
});

function headersOf(c: FuzzCase): Record<string, string> {
  const type = c.contentType ?? JSON_TYPE;
  return type === '' ? {} : { 'content-type': type };
}

async function inject(path: string, c: FuzzCase): Promise<Answer> {
  const res = await web.app.inject({ method: 'POST', url: path, headers: headersOf(c), payload: c.body });
  return { statusCode: res.statusCode, headers: res.headers, body: res.body };
}

async function overSocket(path: string, c: FuzzCase): Promise<Answer> {
  const res = await httpsPost(
    web.port,
    path,
    c.body,
    { ca: web.ca.cert, servername: SERVICE_NAME, agent },
    headersOf(c),
  );
  return { statusCode: res.status, headers: res.headers, body: res.body };
}

async function expectStillMutates(path: string): Promise<void> {
  const body = JSON.stringify(exampleReview());
  for (const answer of [
    await inject(path, { kind: 'known-good', body }),
    await overSocket(path, { kind: 'known-good', body }),
  ]) {
    expect(answer.statusCode).toBe(200);
    expect(responseOf(answer.body).patchType).toBe('JSONPatch');
  }
}

describe.each(ENDPOINTS)('POST $path under fuzz', (endpoint) => {
  for (const g of GENERATORS) {
    it(`${g.name}: ${g.inject} in-process cases`, async () => {
      await fc.assert(
        fc.asyncProperty(g.arbitrary.map(describedCase), async (c) =>
          endpoint.check(c, await inject(endpoint.path, c)),
        ),
        { numRuns: g.inject },
      );
      await expectStillMutates(endpoint.path);
    });
  }

  it('every field of the example review replaced by each wrong type, or deleted', async () => {
    const cases = wrongTypeCases();
    expect(cases.length).toBeGreaterThan(500);
    for (const c of cases) endpoint.check(c, await inject(endpoint.path, c));
    await expectStillMutates(endpoint.path);
  });

  it('nesting 20k deep at every place, as every shape, and as the whole body', async () => {
    for (const c of deepNestingCases(20_000)) endpoint.check(c, await inject(endpoint.path, c));
    await expectStillMutates(endpoint.path);
  });

  it('a sample of every generator over real HTTPS sockets (keep-alive)', async () => {
    for (const g of GENERATORS) {
      await fc.assert(
        fc.asyncProperty(g.arbitrary.map(describedCase), async (c) =>
          endpoint.check(c, await overSocket(endpoint.path, c)),
        ),
        { numRuns: g.socket },
      );
    }
    await expectStillMutates(endpoint.path);
  });
});
