/**
 * Invariants of the NetworkPolicy egress evaluator over random policies (fast-check): a policy that does not select
 * the pod never changes the answer, allowances only add up once a pod is isolated, another namespace never matters,
 * order never matters, the fix policy always lets DNS through, policyTypes defaulting; and a 10,000-policy list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type IpAddress, parseIp } from '../../src/core/ip.ts';
import {
  allowDnsPolicyYaml,
  type DnsEgressVerdict,
  type EgressRule,
  evaluateDnsEgress,
  type LabelSelector,
  matchSelector,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyType,
  SELECT_ALL,
} from '../../src/core/network-policy.ts';
import { networkPolicy } from '../../src/kube/cluster-objects.ts';

function address(text: string): IpAddress {
  const ip = parseIp(text);
  if (!ip) throw new Error(`bad test address ${text}`);
  return ip;
}

const KEYS = ['app', 'tier', 'team'];
const VALUES = ['web', 'api', 'db'];
const labelsArb = fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: 3 });
const selectorArb: fc.Arbitrary<LabelSelector> = fc.record({
  matchLabels: fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: 2 }),
  matchExpressions: fc.array(
    fc.oneof(
      fc.record({
        key: fc.constantFrom(...KEYS),
        operator: fc.constantFrom('In', 'NotIn'),
        values: fc.uniqueArray(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 2 }),
      }),
      fc.record({
        key: fc.constantFrom(...KEYS),
        operator: fc.constantFrom('Exists', 'DoesNotExist'),
        values: fc.constant<string[]>([]),
      }),
      // Rarely, what apimachinery refuses to build.
      fc.record({
        key: fc.constantFrom(...KEYS),
        operator: fc.constantFrom('Equals', 'In'),
        values: fc.constant<string[]>([]),
      }),
    ),
    { maxLength: 2 },
  ),
});

const CIDRS = [
  '169.254.20.10/32',
  '169.254.0.0/16',
  '10.96.0.0/12',
  '0.0.0.0/0',
  '::/0',
  'fd00::/8',
  '169.254.20.0/24',
];
const peerArb: fc.Arbitrary<PolicyPeer> = fc.oneof(
  fc.record({
    ipBlock: fc.record({
      cidr: fc.constantFrom(...CIDRS),
      except: fc.uniqueArray(fc.constantFrom(...CIDRS), { maxLength: 2 }),
    }),
  }),
  fc.record({ podSelector: selectorArb }),
  fc.record({ namespaceSelector: selectorArb, podSelector: fc.option(selectorArb, { nil: undefined }) }),
);
const portArb: fc.Arbitrary<PolicyPort> = fc.oneof(
  fc.record({ protocol: fc.constantFrom('UDP', 'TCP', 'SCTP') }),
  fc.record({ protocol: fc.constantFrom('UDP', 'TCP'), port: fc.constantFrom(53, 5353, 'dns') }),
  fc.record({
    protocol: fc.constantFrom('UDP', 'TCP'),
    port: fc.integer({ min: 1, max: 60 }),
    endPort: fc.integer({ min: 50, max: 100 }),
  }),
);
const ruleArb: fc.Arbitrary<EgressRule> = fc.record({
  to: fc.array(peerArb, { maxLength: 3 }),
  ports: fc.array(portArb, { maxLength: 3 }),
});
const typesArb: fc.Arbitrary<PolicyType[]> = fc.constantFrom(['Ingress'], ['Egress'], ['Ingress', 'Egress']);
const policyArb = (namespace: fc.Arbitrary<string>): fc.Arbitrary<NetworkPolicy> =>
  fc.record({
    namespace,
    name: fc.stringMatching(/^[a-z]{1,8}$/),
    podSelector: fc.oneof(fc.constant(SELECT_ALL), selectorArb),
    policyTypes: typesArb,
    egress: fc.array(ruleArb, { maxLength: 3 }),
  });
const policiesArb = fc.array(policyArb(fc.constantFrom('shop', 'other')), { maxLength: 6 });
const podArb = labelsArb.map((labels) => ({ namespace: 'shop', labels }));
const destinationArb = fc.constantFrom('169.254.20.10', '169.254.25.10', '10.96.0.10', 'fd00::10').map(address);

function answer(v: DnsEgressVerdict) {
  return { verdict: v.verdict, isolated: v.isolated, udp: v.udp.allowed, tcp: v.tcp.allowed };
}

function selectsForEgress(policy: NetworkPolicy, pod: { namespace: string; labels: Record<string, string> }): boolean {
  return (
    policy.namespace === pod.namespace &&
    policy.policyTypes.includes('Egress') &&
    matchSelector(policy.podSelector, pod.labels).matches
  );
}

describe('NetworkPolicy evaluation invariants', () => {
  it('a policy that does not select the pod never changes the answer, wherever it is inserted', () => {
    fc.assert(
      fc.property(
        policiesArb,
        policyArb(fc.constantFrom('shop', 'other')),
        podArb,
        destinationArb,
        fc.nat(),
        (policies, extra, pod, destination, at) => {
          fc.pre(!selectsForEgress(extra, pod));
          const withExtra = policies.toSpliced(at % (policies.length + 1), 0, extra);
          expect(answer(evaluateDnsEgress(withExtra, pod, destination))).toEqual(
            answer(evaluateDnsEgress(policies, pod, destination)),
          );
        },
      ),
    );
  });

  it('once the pod is isolated, adding a policy never turns an allowed protocol into a blocked one', () => {
    fc.assert(
      fc.property(
        policiesArb,
        policyArb(fc.constant('shop')),
        podArb,
        destinationArb,
        (policies, extra, pod, destination) => {
          const before = evaluateDnsEgress(policies, pod, destination);
          fc.pre(before.isolated);
          const after = evaluateDnsEgress([...policies, extra], pod, destination);
          if (before.udp.allowed) expect(after.udp.allowed).toBe(true);
          if (before.tcp.allowed) expect(after.tcp.allowed).toBe(true);
        },
      ),
    );
  });

  it('policies of another namespace never matter, in any number', () => {
    fc.assert(
      fc.property(
        policiesArb,
        fc.array(policyArb(fc.constantFrom('other', 'kube-system')), { maxLength: 5 }),
        podArb,
        destinationArb,
        (policies, elsewhere, pod, destination) => {
          expect(evaluateDnsEgress([...elsewhere, ...policies, ...elsewhere], pod, destination)).toEqual(
            evaluateDnsEgress(policies, pod, destination),
          );
        },
      ),
    );
  });

  it('order does not matter: the answer is a union', () => {
    fc.assert(
      fc.property(
        policiesArb.chain((policies) =>
          fc.tuple(fc.constant(policies), fc.shuffledSubarray(policies, { minLength: policies.length })),
        ),
        podArb,
        destinationArb,
        ([policies, shuffled], pod, destination) => {
          const a = evaluateDnsEgress(policies, pod, destination);
          const b = evaluateDnsEgress(shuffled, pod, destination);
          expect(answer(b)).toEqual(answer(a));
          expect(b.selectedCount).toBe(a.selectedCount);
        },
      ),
    );
  });

  it('isolated exactly when a policy of the namespace selects the pod for egress', () => {
    fc.assert(
      fc.property(policiesArb, podArb, destinationArb, (policies, pod, destination) => {
        const v = evaluateDnsEgress(policies, pod, destination);
        expect(v.selectedCount).toBe(policies.filter((p) => selectsForEgress(p, pod)).length);
        expect(v.isolated).toBe(v.selectedCount > 0);
        if (!v.isolated) expect(answer(v)).toEqual({ verdict: 'not-isolated', isolated: false, udp: true, tcp: true });
      }),
    );
  });

  it('the fix policy always lets DNS reach the cache, and every allowing rule is named', () => {
    fc.assert(
      fc.property(policiesArb, podArb, destinationArb, (policies, pod, destination) => {
        const fix = networkPolicy(parse(allowDnsPolicyYaml('shop', [destination])));
        if (!fix.ok) throw new Error(fix.error);
        const v = evaluateDnsEgress([...policies, fix.value], pod, destination);
        expect(v.verdict).toBe('allowed');
        expect(v.udp.allowedBy.some((r) => r.name === 'allow-node-local-dns')).toBe(true);
        expect(v.tcp.allowedBy.some((r) => r.name === 'allow-node-local-dns')).toBe(true);
      }),
    );
  });

  it('policyTypes defaulting: none given means Ingress, plus Egress when there are egress rules', () => {
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom(['Egress'], ['Ingress'], ['Ingress', 'Egress']), { nil: undefined }),
        fc.option(fc.array(fc.constant({ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }), { maxLength: 2 }), {
          nil: undefined,
        }),
        (policyTypes, egress) => {
          const projected = networkPolicy({
            metadata: { namespace: 'shop', name: 'p' },
            spec: { podSelector: {}, ...(policyTypes ? { policyTypes } : {}), ...(egress ? { egress } : {}) },
          });
          if (!projected.ok) throw new Error(projected.error);
          const expected = policyTypes ?? ((egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
          expect(projected.value.policyTypes).toEqual(expected);
        },
      ),
    );
  });
});

describe('size', () => {
  it('evaluates a list of 10,000 policies across namespaces', () => {
    const cache = address('169.254.20.10');
    const policies: NetworkPolicy[] = Array.from({ length: 10_000 }, (_, i) => ({
      namespace: i % 2 === 0 ? 'shop' : `team-${i}`,
      name: `deny-${i}`,
      podSelector: i % 4 === 0 ? SELECT_ALL : { matchLabels: { app: 'api' }, matchExpressions: [] },
      policyTypes: ['Ingress', 'Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: [] } }], ports: [{ protocol: 'TCP', port: 443 }] }],
    }));
    const pod = { namespace: 'shop', labels: { app: 'web' } };
    const blocked = evaluateDnsEgress(policies, pod, cache);
    expect(blocked.verdict).toBe('blocked');
    expect(blocked.selectedCount).toBe(2_500);
    expect(blocked.selectedBy).toHaveLength(10);
    const fix = networkPolicy(parse(allowDnsPolicyYaml('shop', [cache])));
    if (!fix.ok) throw new Error(fix.error);
    expect(evaluateDnsEgress([...policies, fix.value], pod, cache).verdict).toBe('allowed');
  });
});
