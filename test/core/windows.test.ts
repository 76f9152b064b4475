/**
 * Windows pods steered only by nodeSelector or a required node affinity (spec.os is optional) are left alone like
 * `spec.os.name: windows` ones: NodeLocal DNSCache runs on Linux nodes only (cluster-facts.md, "Windows pods").
 * Everything (/mutate, /dry-run, `explain`) reads the pod through parsePodView and decide, as here.
 */
import { describe, expect, it } from 'vitest';
import { exampleConfig, namespace, pod, run } from '../support/engine.ts';

const config = exampleConfig();
const shop = namespace('shop', 'default');
const required = (...terms: Array<Array<{ key: string; operator: string; values?: string[] }>>) => ({
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
      },
    },
  },
});
const os = (operator: string, ...values: string[]) => ({ key: 'kubernetes.io/os', operator, values });

describe('pods bound for Windows nodes are left alone (reason windows)', () => {
  const windows: Array<[string, Record<string, unknown>, string]> = [
    ['spec.os.name', { os: { name: 'windows' } }, 'spec.os.name is windows'],
    [
      'nodeSelector',
      { nodeSelector: { 'kubernetes.io/os': 'windows' } },
      'spec.nodeSelector has kubernetes.io/os=windows',
    ],
    ['the deprecated beta label', { nodeSelector: { 'beta.kubernetes.io/os': 'windows' } }, 'beta.kubernetes.io/os'],
    ['required affinity In [windows]', required([os('In', 'windows')]), 'kubernetes.io/os In [windows]'],
    ['required affinity NotIn [linux]', required([os('NotIn', 'linux')]), 'kubernetes.io/os NotIn [linux]'],
    [
      'one of several terms (terms are ORed: the pod may land on Windows)',
      required([os('In', 'linux')], [{ key: 'zone', operator: 'Exists' }, os('In', 'windows')]),
      'In [windows]',
    ],
    ['a multi-OS term', required([os('In', 'linux', 'windows')]), 'In [linux, windows]'],
  ];
  it.each(windows)('%s', (_name, spec, why) => {
    const d = run(config, pod(spec), shop);
    expect(d).toMatchObject({ action: 'skip', reason: 'windows' });
    expect(d.action === 'skip' && d.message).toContain(why);
  });

  const linux: Array<[string, Record<string, unknown>]> = [
    ['nodeSelector linux', { nodeSelector: { 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'm5' } }],
    ['required affinity In [linux]', required([os('In', 'linux')])],
    ['NotIn [windows]', required([os('NotIn', 'windows')])],
    ['other labels only', required([{ key: 'windows', operator: 'In', values: ['windows'] }])],
    [
      'preferred (not required) affinity',
      { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } } },
    ],
    ['null fields', { nodeSelector: null, affinity: { nodeAffinity: null } }],
  ];
  it.each(linux)('but not: %s', (_name, spec) => {
    expect(run(config, pod(spec), shop).action).toBe('mutate');
  });
});
