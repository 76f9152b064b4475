/**
 * What the apiserver enforces and a webhook can break (cluster-facts.md, "Limits the apiserver enforces"): a pod
 * already past a limit is left alone cheaply (`invalid-pod`), warnings are bounded, our annotation never pushes the
 * annotations past 256 KiB, and the summary it carries has a bounded length.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../lab/paths.ts';
import { buildReviewResponse } from '../../src/admission/review.ts';
import { MAX_SUMMARY_CHARS, summarize } from '../../src/core/decide.ts';
import { ANNOTATION_APPLIED, type Decision } from '../../src/core/types.ts';
import { boundWarnings, MAX_WARNINGS, WarningList } from '../../src/core/warnings.ts';
import { exampleConfig, namespace, patched, pod, run } from '../support/engine.ts';

const config = exampleConfig();
const shop = namespace('shop', 'default');
const annotationsOf = (p: Record<string, unknown>) =>
  ((p.metadata as { annotations?: Record<string, string> }).annotations ?? {}) as Record<string, string>;
const annotationBytes = (a: Record<string, string>) =>
  Object.entries(a).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

function skipped(d: Decision) {
  if (d.action !== 'skip') throw new Error(`expected a skip, got ${d.action}`);
  return d;
}

describe('a pod already past an apiserver limit is left alone (invalid-pod)', () => {
  const ip = (i: number) => `10.1.${(i >> 8) & 255}.${i & 255}`;
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      '4 nameservers',
      { nameservers: [1, 2, 3, 4].map(ip) },
      'spec.dnsConfig.nameservers: 4 entries, the apiserver allows 3',
    ],
    ['190,000 nameservers', { nameservers: Array.from({ length: 190_000 }, (_, i) => ip(i)) }, '190000 entries'],
    ['a nameserver that is no IP', { nameservers: ['dns.example.com'] }, '"dns.example.com" is not an IP address'],
    [
      '33 searches',
      { searches: Array.from({ length: 33 }, (_, i) => `s${i}.example`) },
      '33 entries, the apiserver allows 32',
    ],
    ['100,000 searches', { searches: Array.from({ length: 100_000 }, (_, i) => `s${i}.example`) }, '100000 entries'],
    ['a 254-character search', { searches: [`${'a'.repeat(250)}.com`] }, 'is longer than 253 characters'],
    [
      'searches over 2048 characters',
      { searches: Array.from({ length: 9 }, (_, i) => `${'b'.repeat(240)}${i}.io`) },
      '2204 characters, the apiserver allows 2048',
    ],
    ['an option without a name', { options: [{ name: 'edns0' }, { name: '' }] }, 'an option has no name'],
  ];
  it.each(cases)('%s', (_name, dnsConfig, problem) => {
    const d = skipped(run(config, pod({ dnsConfig }), shop));
    expect(d.reason).toBe('invalid-pod');
    expect(d.message).toContain(problem);
    expect(d.warnings).toEqual([expect.stringMatching(/^dns-tuner: pod not tuned, the apiserver will reject the pod/)]);
  });

  it('annotations over 256 KiB', () => {
    const d = skipped(run(config, pod({}, { annotations: { big: 'x'.repeat(262_142) } }), shop));
    expect(d.message).toContain('metadata.annotations: more than 262144 bytes, the apiserver allows 262144');
  });

  it('pods exactly at every limit are tuned', () => {
    const searches = [
      ...Array.from({ length: 7 }, (_, i) => `${'c'.repeat(249)}${i}.io`),
      ...Array.from({ length: 25 }, (_, i) => `e${i}.io`),
    ];
    const exact = { nameservers: ['1.1.1.1', '8.8.8.8', '9.9.9.9'], searches, options: [{ name: 'edns0' }] };
    const d = run(config, pod({ dnsConfig: exact }, { annotations: { big: 'y'.repeat(262_141) } }), shop);
    expect(d.action).toBe('mutate');
    expect(`${'a'.repeat(249)}.com.`).toHaveLength(254); // a trailing dot does not count (kubernetes/kubernetes#83046)
    expect(run(config, pod({ dnsConfig: { searches: [`${'a'.repeat(249)}.com.`] } }), shop).action).toBe('mutate');
  });

  it('runs before the policy, the annotations or the node-local rewrite read the dnsConfig', () => {
    const ns = namespace('shop', 'default', { 'dns-tuner.io/options': 'bogus' });
    const d = skipped(run(config, pod({ dnsConfig: { nameservers: [1, 2, 3, 4].map(ip) } }), ns));
    expect(d.warnings).toHaveLength(1);
  });
});

describe('warnings are bounded', () => {
  it('truncates, dedupes, and caps at MAX_WARNINGS with a final "and N more" (repeats past the cap counted)', () => {
    const list = new WarningList();
    for (let i = 0; i < 100; i++) list.add(`w${i % 50}`);
    list.add('x'.repeat(500));
    const out = list.list();
    expect(out).toHaveLength(MAX_WARNINGS);
    expect(out.slice(0, 3)).toEqual(['w0', 'w1', 'w2']);
    // Kept: w0…w18; more: w19…w49 twice (past the cap only a count is kept, so repeats count) and the long one.
    expect(out.at(-1)).toBe('dns-tuner: … and 62 more warnings');
    expect(out[18]).toBe('w18');
    const long = new WarningList();
    long.add('x'.repeat(500));
    expect(long.list()).toEqual([`${'x'.repeat(119)}…`]);
    expect(boundWarnings(['a', 'a', 'b'])).toEqual(['a', 'b']);
    expect(boundWarnings(Array.from({ length: MAX_WARNINGS }, (_, i) => `v${i}`))).toHaveLength(MAX_WARNINGS);
    expect(new WarningList().list(['first'])).toEqual(['first']);
  });

  it('keeps a lead line (the dry-run line) first, and within the cap', () => {
    const list = new WarningList();
    for (let i = 0; i < 30; i++) list.add(`w${i}`);
    const out = list.list(['lead']);
    expect(out[0]).toBe('lead');
    expect(out).toHaveLength(MAX_WARNINGS);
    expect(out.at(-1)).toBe('dns-tuner: … and 12 more warnings');
  });

  it('a 200 KB annotation of bad tokens makes a few KB of warnings; 150,000 tokens do not throw', () => {
    const tokens = (n: number) => Array.from({ length: n }, (_, i) => `bad${i}`).join(',');
    const d = run(config, pod({}, { annotations: { 'dns-tuner.io/options': tokens(25_000) } }), shop);
    expect(d.action).toBe('mutate');
    expect(d.warnings).toHaveLength(MAX_WARNINGS);
    expect(d.warnings.at(-1)).toBe('dns-tuner: … and 24981 more warnings');
    expect(Buffer.byteLength(JSON.stringify(d.warnings))).toBeLessThan(3000);
    // A namespace's annotations are not bounded by the pod's 256 KiB: the engine must cope with any number.
    const ns = namespace('shop', 'default', { 'dns-tuner.io/options': tokens(150_000) });
    const big = run(config, pod(), ns);
    expect(big.warnings).toHaveLength(MAX_WARNINGS);
    expect(big.invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/options', source: 'namespace-annotation', value: 'bad0', problem: 'invalid' },
    ]);
  });

  it('no source file spreads an array into a call (push, unshift, Math.max/min: a large one overflows the stack)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts')) {
          const text = readFileSync(join(ROOT, path), 'utf8');
          for (const [i, line] of text.split('\n').entries()) {
            if (/(\.push|\.unshift|Math\.max|Math\.min)\((?:[^;]*?[(,])?\s*\.\.\./.test(line))
              offenders.push(`${path}:${i + 1}: ${line.trim()}`);
          }
        }
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});

describe('our annotation', () => {
  it('is left out, with a warning, when it would push the annotations past 256 KiB', () => {
    const key = 'example.com/blob';
    const filler = { [key]: 'z'.repeat(262_144 - key.length - 50) };
    const raw = pod({}, { annotations: filler });
    const d = run(config, raw, shop);
    expect(d.action).toBe('mutate');
    const out = patched(raw, d);
    expect(annotationsOf(out)[ANNOTATION_APPLIED]).toBeUndefined();
    expect(annotationBytes(annotationsOf(out))).toBeLessThanOrEqual(262_144);
    expect(d.warnings).toContain(
      `dns-tuner: ${ANNOTATION_APPLIED} left out: the annotations would exceed the apiserver's 256 KiB`,
    );
    expect((out.spec as { dnsPolicy: string }).dnsPolicy).toBe('None');
    // Still idempotent: a second pass finds the DNS it would set.
    expect(run(config, out, shop).action).toBe('skip');
  });

  it('is added when it fits exactly', () => {
    const base = run(config, pod(), shop);
    if (base.action === 'skip') throw new Error(base.message);
    const value = `default: ${summarize(base.after)}`;
    const key = 'example.com/blob';
    const room = 262_144 - Buffer.byteLength(ANNOTATION_APPLIED) - Buffer.byteLength(value);
    const raw = pod({}, { annotations: { [key]: 'z'.repeat(room - key.length) } });
    const out = patched(raw, run(config, raw, shop));
    expect(annotationsOf(out)[ANNOTATION_APPLIED]).toBe(value);
    expect(annotationBytes(annotationsOf(out))).toBe(262_144);
  });

  it('has a bounded summary however many options the author wrote', () => {
    const options = Array.from({ length: 5000 }, (_, i) => ({ name: `opt-${i}`, value: 'v'.repeat(i % 7) }));
    const d = run(config, pod({ dnsConfig: { options } }), shop);
    if (d.action === 'skip') throw new Error(d.message);
    expect(d.summary.length).toBeLessThanOrEqual(MAX_SUMMARY_CHARS);
    expect(d.summary).toMatch(/,…\+\d+ more$/);
    expect(annotationsOf(patched(pod({ dnsConfig: { options } }), d))[ANNOTATION_APPLIED]!.length).toBeLessThan(600);
    // One huge option name is cut, not carried.
    const huge = run(config, pod({ dnsConfig: { options: [{ name: 'n'.repeat(100_000) }] } }), shop);
    expect(huge.action !== 'skip' && huge.summary).toMatch(/options=…\+5 more$/);
  });
});

describe('the AdmissionResponse', () => {
  it('bounds whatever warnings it is given', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `warning ${i} ${'w'.repeat(200)}`);
    const warnings = buildReviewResponse('u', { warnings: [...many, ...many] }).response.warnings ?? [];
    expect(warnings).toHaveLength(MAX_WARNINGS);
    // 19 shown + 19,961 = 20,000 given, less the 20 repeats of shown ones.
    expect(warnings.at(-1)).toBe('dns-tuner: … and 19961 more warnings');
    for (const w of warnings) expect(w.length).toBeLessThanOrEqual(120);
  });
});
