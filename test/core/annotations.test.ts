/**
 * Unrecognised values fail safe (issue 9, item 8): `dns-tuner.io/skip` documented as "true"/"false", anything else
 * leaves the pod alone with a warning; an unparseable `dns-tuner.io/mode` means dry-run. Every ignored or invalid
 * annotation also comes back as a structured value (`invalidAnnotations`) for the caller to count.
 */
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/types.ts';
import { configFrom, exampleConfig, namespace, pod, run } from '../support/engine.ts';

const config = exampleConfig();
const shop = namespace('shop', 'default');

describe('dns-tuner.io/skip', () => {
  it.each(['true', ' true '])('annotation %j skips silently', (value) => {
    const d = run(config, pod({}, { annotations: { 'dns-tuner.io/skip': value } }), shop);
    expect(d).toMatchObject({ action: 'skip', reason: 'pod-opt-out', warnings: [], invalidAnnotations: [] });
  });

  it('"false" tunes the pod silently', () => {
    const d = run(config, pod({}, { annotations: { 'dns-tuner.io/skip': 'false' } }), shop);
    expect(d).toMatchObject({ action: 'mutate', warnings: [], invalidAnnotations: [] });
  });

  it.each(['True', 'TRUE', 'yes', '1', 'on', '', 'False'])('annotation %j skips, with a warning naming it', (value) => {
    const d = run(config, pod({}, { annotations: { 'dns-tuner.io/skip': value } }), shop);
    expect(d).toMatchObject({ action: 'skip', reason: 'pod-opt-out' });
    expect(d.warnings).toEqual([
      `dns-tuner: pod annotation dns-tuner.io/skip=${JSON.stringify(value)} is not "true" or "false": pod left alone`,
    ]);
    expect(d.invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/skip', source: 'pod-annotation', value, problem: 'invalid' },
    ]);
  });

  it('the label reads the same way (the objectSelector only filters "true")', () => {
    const d = run(config, pod({}, { labels: { 'dns-tuner.io/skip': 'yes' } }), shop);
    expect(d).toMatchObject({ action: 'skip', reason: 'pod-opt-out' });
    expect(d.warnings).toEqual([
      'dns-tuner: pod label dns-tuner.io/skip="yes" is not "true" or "false": pod left alone',
    ]);
    expect(d.invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/skip', source: 'pod-label', value: 'yes', problem: 'invalid' },
    ]);
    expect(run(config, pod({}, { labels: { 'dns-tuner.io/skip': 'false' } }), shop).action).toBe('mutate');
  });
});

describe('dns-tuner.io/mode', () => {
  const dryRun = (d: Decision) => {
    expect(d.action).toBe('dry-run');
    if (d.action === 'skip') throw new Error(d.message);
    return d;
  };

  it.each(['Dry-Run', 'DRY-RUN', 'dryrun', 'audit', 'Enforce', ''])('pod %j means dry-run, with a warning', (value) => {
    const d = dryRun(run(config, pod({}, { annotations: { 'dns-tuner.io/mode': value } }), shop));
    expect(d.settings.mode).toEqual({ value: 'dry-run', source: 'pod-annotation', from: 'dns-tuner.io/mode' });
    expect(d.warnings).toContain(
      `dns-tuner: pod annotation dns-tuner.io/mode=${JSON.stringify(value)} is not "enforce" or "dry-run": dry-run`,
    );
    expect(d.invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/mode', source: 'pod-annotation', value, problem: 'invalid' },
    ]);
  });

  it('on a namespace too, and even where the policy forbids pod overrides', () => {
    const ns = namespace('shop', 'default', { 'dns-tuner.io/mode': 'Dry-Run' });
    expect(dryRun(run(config, pod(), ns)).invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/mode', source: 'namespace-annotation', value: 'Dry-Run', problem: 'invalid' },
    ]);
    const strict = configFrom({ policies: { default: { podOverrides: false } } });
    dryRun(run(strict, pod({}, { annotations: { 'dns-tuner.io/mode': 'yes please' } }), shop));
  });

  it('"enforce" cannot undo a namespace dry-run; a valid value is no finding', () => {
    const d = run(config, pod({}, { annotations: { 'dns-tuner.io/mode': 'enforce' } }), shop);
    expect(d).toMatchObject({ action: 'mutate', invalidAnnotations: [] });
  });
});

describe('invalidAnnotations: every ignored or invalid annotation, bounded', () => {
  it('one entry per key and place, with the first bad value and what was wrong', () => {
    const ns = namespace('shop', 'options-only', {
      'dns-tuner.io/ndots': 'many',
      'dns-tuner.io/options': 'rotate,bogus1,bogus2,timeout:0',
      'dns-tuner.io/node-local': 'yes',
    });
    const raw = pod(
      {},
      { annotations: { 'dns-tuner.io/ndots': '2', 'dns-tuner.io/fallback': 'maybe', 'dns-tuner.io/options': 'x' } },
    );
    const d = run(configFrom({ policies: { 'options-only': { podOverrides: false } } }), raw, ns);
    expect(d.invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/ndots', source: 'namespace-annotation', value: 'many', problem: 'invalid' },
      { annotation: 'dns-tuner.io/options', source: 'namespace-annotation', value: 'bogus1', problem: 'invalid' },
      { annotation: 'dns-tuner.io/node-local', source: 'namespace-annotation', value: 'yes', problem: 'invalid' },
      { annotation: 'dns-tuner.io/options', source: 'pod-annotation', value: 'x', problem: 'invalid' },
      { annotation: 'dns-tuner.io/fallback', source: 'pod-annotation', value: 'maybe', problem: 'invalid' },
      { annotation: 'dns-tuner.io/ndots', source: 'pod-annotation', value: '2', problem: 'not-allowed' },
    ]);
  });

  it('an annotation that needs an address the config does not name is "unconfigured"', () => {
    const bare = configFrom({ policies: { default: { nodeLocal: false } } });
    const raw = pod({}, { annotations: { 'dns-tuner.io/node-local': 'true', 'dns-tuner.io/fallback': 'true' } });
    expect(run(bare, raw, shop).invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/node-local', source: 'pod-annotation', value: 'true', problem: 'unconfigured' },
      { annotation: 'dns-tuner.io/fallback', source: 'pod-annotation', value: 'true', problem: 'unconfigured' },
    ]);
  });

  it('keys set in the wrong place: pod-overrides on a pod, skip on a namespace', () => {
    const ns = namespace('shop', 'default', { 'dns-tuner.io/skip': 'true' });
    const d = run(config, pod({}, { annotations: { 'dns-tuner.io/pod-overrides': 'true' } }), ns);
    expect(d.action).toBe('mutate');
    expect(d.warnings).toEqual([
      'dns-tuner: ignored namespace annotation dns-tuner.io/skip: only a pod may set it',
      'dns-tuner: ignored pod annotation dns-tuner.io/pod-overrides: only a namespace may set it',
    ]);
    expect(d.invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/skip', source: 'namespace-annotation', value: 'true', problem: 'not-allowed' },
      { annotation: 'dns-tuner.io/pod-overrides', source: 'pod-annotation', value: 'true', problem: 'not-allowed' },
    ]);
  });

  it('cuts a long value to 64 characters, never inside a surrogate pair', () => {
    const emoji = run(config, pod({}, { annotations: { 'dns-tuner.io/ndots': `${'n'.repeat(63)}😀` } }), shop);
    expect(emoji.invalidAnnotations[0]?.value).toBe('n'.repeat(63));
    const raw = pod({}, { annotations: { 'dns-tuner.io/ndots': 'n'.repeat(10_000) } });
    expect(run(config, raw, shop).invalidAnnotations).toEqual([
      { annotation: 'dns-tuner.io/ndots', source: 'pod-annotation', value: 'n'.repeat(64), problem: 'invalid' },
    ]);
  });
});
