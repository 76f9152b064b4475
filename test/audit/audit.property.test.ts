/**
 * The audit's invariants over random pod templates, namespaces and annotations (fast-check), against the webhook's
 * own engine: a pod the webhook admitted is never reported as needing a rollout (no false alarm), a pod created
 * without the webhook is reported exactly when the webhook would give it other DNS, and a bare pod's reconstruction
 * from its tuned self gives the verdict its template gives (when its author wrote no dnsConfig).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admit } from '../../lab/audit-cluster.ts';
import { ownDns, sameDns } from '../../src/audit/dns.ts';
import { NEEDS_ROLLOUT, type PodFinding, podState } from '../../src/audit/tally.ts';
import { podVerdict, templateVerdict } from '../../src/audit/verdict.ts';
import { ANNOTATION_APPLIED, type NamespaceInfo } from '../../src/core/types.ts';
import { parsePodView } from '../../src/kube/pod.ts';
import { createFixedNamespaceSource } from '../../src/namespaces/fixed-source.ts';
import { createReviewService } from '../../src/review/service.ts';
import { exampleConfig } from '../support/engine.ts';

type Json = Record<string, unknown>;

const config = exampleConfig();
const option = fc.oneof(
  fc.constantFrom({ name: 'single-request-reopen' }, { name: 'rotate' }, { name: 'edns0' }),
  fc.integer({ min: 0, max: 15 }).map((n) => ({ name: 'ndots', value: String(n) })),
  fc.integer({ min: 1, max: 30 }).map((n) => ({ name: 'timeout', value: String(n) })),
);
const dnsConfig = fc.option(
  fc.record(
    {
      nameservers: fc.array(fc.constantFrom('10.0.0.53', '1.1.1.1', '169.254.20.10'), { maxLength: 2 }),
      searches: fc.array(fc.constantFrom('corp.example.com', 'ec2.internal'), { maxLength: 2 }),
      options: fc.array(option, { maxLength: 3 }),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);
const podAnnotations = fc.record(
  {
    'dns-tuner.io/ndots': fc.constantFrom('1', '2', '4', 'x'),
    'dns-tuner.io/options': fc.constantFrom('rotate', '-single-request-reopen', 'timeout:3,attempts:1', 'bogus'),
    'dns-tuner.io/node-local': fc.constantFrom('true', 'false'),
    'dns-tuner.io/skip': fc.constantFrom('false', 'true'),
    'dns-tuner.io/mode': fc.constantFrom('enforce', 'dry-run'),
  },
  { requiredKeys: [] },
);
const template = fc.record({
  dnsPolicy: fc.constantFrom('ClusterFirst', 'ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'),
  hostNetwork: fc.boolean(),
  dnsConfig,
  annotations: podAnnotations,
});
const namespace = fc.record({
  policy: fc.constantFrom('default', 'options-only', 'no-such-policy', undefined),
  annotations: fc.record(
    {
      'dns-tuner.io/ndots': fc.constantFrom('2', '4'),
      'dns-tuner.io/node-local': fc.constantFrom('true', 'false'),
      'dns-tuner.io/mode': fc.constantFrom('enforce', 'dry-run'),
      'dns-tuner.io/pod-overrides': fc.constantFrom('true', 'false'),
    },
    { requiredKeys: [] },
  ),
});

type Template = typeof template extends fc.Arbitrary<infer T> ? T : never;
type Namespace = typeof namespace extends fc.Arbitrary<infer T> ? T : never;

function podFrom(t: Template): Json {
  const spec: Json = {
    containers: [{ name: 'app', image: 'app:1' }],
    dnsPolicy: t.dnsPolicy,
    hostNetwork: t.hostNetwork,
  };
  if (t.dnsConfig !== undefined) spec.dnsConfig = t.dnsConfig;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'shop', annotations: t.annotations },
    spec,
  };
}

function findingOf(pod: Json): PodFinding {
  const view = parsePodView(pod);
  if (!view.ok) throw new Error(view.error);
  return {
    name: 'web-1',
    current: ownDns(view.pod),
    hostNetwork: view.pod.hostNetwork,
    applied: view.pod.annotations[ANNOTATION_APPLIED],
  };
}

function setup(ns: Namespace) {
  const info: NamespaceInfo = {
    name: 'shop',
    labels: ns.policy === undefined ? {} : { 'dns-tuner.io/policy': ns.policy },
    annotations: ns.annotations as Record<string, string>,
  };
  const review = createReviewService({ getConfig: () => config, namespaces: createFixedNamespaceSource([info]) });
  return { info, review };
}

/** The Deployment whose template is `pod`'s spec and annotations, as the API returns it (no kind in a list item). */
function deploymentOf(pod: Json): Json {
  const { metadata, spec } = pod as { metadata: Json; spec: Json };
  return {
    metadata: { name: 'web', namespace: 'shop' },
    spec: { template: { metadata: { annotations: metadata.annotations }, spec } },
  };
}

describe('audit invariants', () => {
  it('a pod the webhook admitted never needs a rollout; one it did not is reported exactly when it would change', async () => {
    await fc.assert(
      fc.asyncProperty(template, namespace, async (t, ns) => {
        const { info, review } = setup(ns);
        const created = podFrom(t);
        const admitted = admit(config, 'shop', info, created);
        const verdict = await templateVerdict(review, 'Deployment', deploymentOf(created));
        expect(NEEDS_ROLLOUT.has(podState(verdict, findingOf(admitted)))).toBe(false);
        const tunes = verdict.decision === 'mutated';
        const changes = !sameDns(findingOf(created).current!, findingOf(admitted).current!);
        expect(podState(verdict, findingOf(created))).toBe(tunes && changes ? 'untuned' : tunes ? 'tuned' : 'skipped');
      }),
      { numRuns: 300 },
    );
  });

  it('a pod admitted under another namespace setting is stale exactly when its DNS differs from today’s', async () => {
    await fc.assert(
      fc.asyncProperty(template, namespace, namespace, async (t, then, now) => {
        const before = setup(then);
        const { review } = setup(now);
        const created = podFrom(t);
        const admittedThen = admit(config, 'shop', before.info, created);
        const verdict = await templateVerdict(review, 'Deployment', deploymentOf(created));
        const state = podState(verdict, findingOf(admittedThen));
        const tuned = findingOf(admittedThen).applied !== undefined;
        const differs = verdict.wouldBe !== undefined && !sameDns(findingOf(admittedThen).current!, verdict.wouldBe);
        if (tuned) expect(state === 'stale').toBe(differs);
        else expect(NEEDS_ROLLOUT.has(state)).toBe(verdict.decision === 'mutated' && differs);
        expect(state === 'untuned').toBe(!tuned && verdict.decision === 'mutated' && differs);
      }),
      { numRuns: 300 },
    );
  });

  it('a bare pod taken back from its tuned self is reviewed as its template (author without dnsConfig)', async () => {
    await fc.assert(
      fc.asyncProperty(template, namespace, async (t, ns) => {
        const { info, review } = setup(ns);
        const created = podFrom({ ...t, dnsConfig: undefined });
        const admitted = admit(config, 'shop', info, created);
        const fromTemplate = await templateVerdict(review, 'Deployment', deploymentOf(created));
        const fromPod = await podVerdict(review, admitted);
        expect(fromPod.basis).toBe(admitted === created ? 'pod' : 'pod-reconstructed');
        expect(fromPod.decision).toBe(fromTemplate.decision);
        expect(fromPod.reason).toBe(fromTemplate.reason);
        expect(fromPod.wouldBe).toEqual(fromTemplate.wouldBe);
        expect(NEEDS_ROLLOUT.has(podState(fromPod, findingOf(admitted)))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
