/** The pod view: the slice of a Pod the engine reads, parsed once at the edge. */
import { describe, expect, it } from 'vitest';
import { parsePodView } from '../../src/kube/pod.ts';

describe('parsePodView', () => {
  it('reads the node selector and the label expressions of required node-affinity terms', () => {
    const view = parsePodView({
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        affinity: {
          podAntiAffinity: { anything: true },
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['windows'] }] },
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
                { matchExpressions: [{ key: 'zone', operator: 'Exists' }] },
              ],
            },
          },
        },
      },
    });
    expect(view.ok && view.pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'windows' });
    expect(view.ok && view.pod.requiredNodeTerms).toEqual([
      { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['windows'] }] },
      { matchExpressions: [] },
      { matchExpressions: [{ key: 'zone', operator: 'Exists', values: [] }] },
    ]);
  });

  it('treats missing and null scheduling fields as none', () => {
    for (const spec of [{}, { nodeSelector: null, affinity: null }, { affinity: { nodeAffinity: null } }]) {
      const view = parsePodView({ spec });
      expect(view.ok && { s: view.pod.nodeSelector, t: view.pod.requiredNodeTerms }).toEqual({ s: {}, t: [] });
    }
  });

  it('names the field of a malformed affinity', () => {
    const view = parsePodView({
      spec: {
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: 7 } } },
      },
    });
    expect(view).toMatchObject({
      ok: false,
      error: expect.stringContaining('spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution'),
    });
  });
});
