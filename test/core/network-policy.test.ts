/**
 * The NetworkPolicy egress evaluator against the Kubernetes documentation's examples
 * (https://kubernetes.io/docs/concepts/services-networking/network-policies/), the "default deny egress + DNS to the
 * kube-dns pods" pattern that blocks a NodeLocal DNSCache, the fix policy, and the semantics of each field.
 * Policies are written as the YAML a user applies and read through the same projection the cluster adapter uses.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type IpAddress, parseIp } from '../../src/core/ip.ts';
import {
  ALLOW_DNS_POLICY_NAME,
  allowDnsPolicyYaml,
  type DnsEgressVerdict,
  describeRule,
  evaluateDnsEgress,
  formatSelector,
  MAX_REFS,
  matchSelector,
  type NetworkPolicy,
  type PodIdentity,
} from '../../src/core/network-policy.ts';
import { networkPolicy } from '../../src/kube/cluster-objects.ts';

function address(text: string): IpAddress {
  const ip = parseIp(text);
  if (!ip) throw new Error(`bad test address ${text}`);
  return ip;
}

const CACHE = address('169.254.20.10');

/** A NetworkPolicy from the YAML a user would apply (namespace defaults to `shop`). */
function policy(yaml: string, namespace = 'shop'): NetworkPolicy {
  const doc = parse(yaml) as { metadata: Record<string, unknown> };
  doc.metadata = { namespace, ...doc.metadata };
  const projected = networkPolicy(doc);
  if (!projected.ok) throw new Error(projected.error);
  return projected.value;
}

const web: PodIdentity = { namespace: 'shop', labels: { app: 'web', tier: 'front' } };

function evaluate(policies: NetworkPolicy[], pod: PodIdentity = web, destination = CACHE): DnsEgressVerdict {
  return evaluateDnsEgress(policies, pod, destination);
}

const DEFAULT_DENY_EGRESS = policy(`
metadata: {name: default-deny-egress}
spec:
  podSelector: {}
  policyTypes: [Egress]
`);

/** The usual "DNS to kube-dns only" allowance: selectors, so it reaches CoreDNS pods and never the node's cache. */
const DNS_TO_KUBE_DNS_PODS = policy(`
metadata: {name: allow-dns}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: kube-system}
          podSelector:
            matchLabels: {k8s-app: kube-dns}
      ports:
        - {protocol: UDP, port: 53}
        - {protocol: TCP, port: 53}
`);

const FIX = policy(allowDnsPolicyYaml('shop', [CACHE]));

describe('the documentation examples', () => {
  // content/en/examples/service/networking/networkpolicy.yaml
  const testNetworkPolicy = policy(
    `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
`,
    'default',
  );
  const db: PodIdentity = { namespace: 'default', labels: { role: 'db' } };
  const frontend: PodIdentity = { namespace: 'default', labels: { role: 'frontend' } };

  it('test-network-policy isolates role=db pods, whose only egress is TCP 5978 to 10.0.0.0/24: DNS is blocked', () => {
    const v = evaluate([testNetworkPolicy], db);
    expect(v.verdict).toBe('blocked');
    expect(v.selectedBy).toEqual([{ namespace: 'default', name: 'test-network-policy' }]);
    expect(v.udp).toEqual({ allowed: false, allowedBy: [], podPeersOnly: [] });
    // Blocked to kube-dns's Service IP as well: 10.96.0.10 is outside 10.0.0.0/24.
    expect(evaluate([testNetworkPolicy], db, address('10.96.0.10')).verdict).toBe('blocked');
  });

  it('test-network-policy does not select role=frontend pods: they are not isolated', () => {
    const v = evaluate([testNetworkPolicy], frontend);
    expect(v).toMatchObject({ verdict: 'not-isolated', isolated: false, selectedBy: [], selectedCount: 0 });
    expect(v.udp.allowed && v.tcp.allowed).toBe(true);
  });

  it('multi-port-egress: TCP 32000-32768 to 10.0.0.0/24 does not include port 53', () => {
    const multiPort = policy(
      `
metadata: {name: multi-port-egress, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/24}}]
    ports: [{protocol: TCP, port: 32000, endPort: 32768}]
`,
      'default',
    );
    expect(evaluate([multiPort], db, address('10.0.0.53')).verdict).toBe('blocked');
  });

  it('default-deny-egress isolates every pod of the namespace and allows nothing', () => {
    const v = evaluate([DEFAULT_DENY_EGRESS]);
    expect(v).toMatchObject({ verdict: 'blocked', isolated: true, selectedCount: 1 });
  });

  it('default-deny-ingress does not touch egress', () => {
    const denyIngress = policy(
      'metadata: {name: default-deny-ingress}\nspec: {podSelector: {}, policyTypes: [Ingress]}',
    );
    expect(evaluate([denyIngress]).verdict).toBe('not-isolated');
  });

  it('default-deny-all blocks egress', () => {
    const denyAll = policy(
      'metadata: {name: default-deny-all}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}',
    );
    expect(evaluate([denyAll]).verdict).toBe('blocked');
  });

  it('allow-all-egress ({} as the one rule) wins over default-deny-egress: the union of rules', () => {
    const allowAll = policy(
      'metadata: {name: allow-all-egress}\nspec: {podSelector: {}, egress: [{}], policyTypes: [Egress]}',
    );
    const v = evaluate([DEFAULT_DENY_EGRESS, allowAll]);
    expect(v.verdict).toBe('allowed');
    expect(v.selectedCount).toBe(2);
    expect(v.udp.allowedBy).toEqual([{ namespace: 'shop', name: 'allow-all-egress', rule: 0 }]);
    expect(v.tcp.allowedBy).toEqual([{ namespace: 'shop', name: 'allow-all-egress', rule: 0 }]);
  });

  it('allow-egress-deny-ingress allows all egress', () => {
    const p = policy(`
metadata: {name: allow-egress-deny-ingress}
spec:
  podSelector: {}
  policyTypes: [Egress, Ingress]
  egress: [{}]
  ingress: []
`);
    expect(evaluate([p]).verdict).toBe('allowed');
  });
});

describe('DNS to a NodeLocal DNSCache', () => {
  it('"default deny egress + DNS to the kube-dns pods" blocks the cache, and says which rule only reaches pods', () => {
    const v = evaluate([DEFAULT_DENY_EGRESS, DNS_TO_KUBE_DNS_PODS]);
    expect(v.verdict).toBe('blocked');
    const rule = { namespace: 'shop', name: 'allow-dns', rule: 0 };
    expect(v.udp).toEqual({ allowed: false, allowedBy: [], podPeersOnly: [rule] });
    expect(v.tcp).toEqual({ allowed: false, allowedBy: [], podPeersOnly: [rule] });
    expect(describeRule(rule)).toBe('shop/allow-dns egress[0]');
  });

  it('the fix policy allows it, UDP and TCP, and is the rule named', () => {
    const v = evaluate([DEFAULT_DENY_EGRESS, DNS_TO_KUBE_DNS_PODS, FIX]);
    expect(v.verdict).toBe('allowed');
    const rule = { namespace: 'shop', name: ALLOW_DNS_POLICY_NAME, rule: 0 };
    expect(v.udp.allowedBy).toEqual([rule]);
    expect(v.tcp.allowedBy).toEqual([rule]);
    // The fix names exactly the cache: another link-local address stays blocked.
    expect(evaluate([DEFAULT_DENY_EGRESS, FIX], web, address('169.254.20.11')).verdict).toBe('blocked');
  });

  it('the fix policy for an IPv6 cache uses a /128 and allows only that address', () => {
    const v6 = address('fd00::10');
    const fix = policy(allowDnsPolicyYaml('shop', [v6]));
    expect(fix.egress[0]!.to).toEqual([{ ipBlock: { cidr: 'fd00::10/128', except: [] } }]);
    expect(evaluate([DEFAULT_DENY_EGRESS, fix], web, v6).verdict).toBe('allowed');
    expect(evaluate([DEFAULT_DENY_EGRESS, fix], web, address('fd00::11')).verdict).toBe('blocked');
  });

  it('UDP allowed but not TCP: udp-only (truncated answers cannot be retried over TCP)', () => {
    const udpOnly = policy(`
metadata: {name: dns-udp}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 169.254.20.10/32}}], ports: [{protocol: UDP, port: 53}]}]
`);
    const v = evaluate([udpOnly]);
    expect(v.verdict).toBe('udp-only');
    expect(v.udp.allowed).toBe(true);
    expect(v.tcp.allowed).toBe(false);
  });

  it('a port without protocol is TCP: tcp-only', () => {
    const tcp = policy(`
metadata: {name: dns-tcp}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 169.254.0.0/16}}], ports: [{port: 53}]}]
`);
    expect(tcp.egress[0]!.ports).toEqual([{ protocol: 'TCP', port: 53, endPort: undefined }]);
    expect(evaluate([tcp]).verdict).toBe('tcp-only');
  });

  it.each([
    [1, 1024, 'allowed'],
    [53, 53, 'allowed'],
    [53, 54, 'allowed'],
    [52, 53, 'allowed'],
    [54, 100, 'blocked'],
    [1, 52, 'blocked'],
  ])('endPort range %i-%i: %s', (port, endPort, verdict) => {
    const range = policy(`
metadata: {name: range}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 169.254.20.10/32}}]
      ports: [{protocol: UDP, port: ${port}, endPort: ${endPort}}, {protocol: TCP, port: ${port}, endPort: ${endPort}}]
`);
    expect(evaluate([range]).verdict).toBe(verdict);
  });

  it.each([
    ['169.254.0.0/16', ['169.254.20.0/24'], 'blocked'],
    ['169.254.0.0/16', ['169.254.20.10/32'], 'blocked'],
    ['169.254.0.0/16', ['169.254.25.0/24'], 'allowed'],
    ['169.254.0.0/16', ['169.254.25.10/32', '169.254.20.11/32'], 'allowed'],
    ['0.0.0.0/0', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'], 'allowed'],
    ['0.0.0.0/0', ['169.254.0.0/16'], 'blocked'],
    ['::/0', [], 'blocked'],
  ])('ipBlock %s except %j: %s', (cidr, except, verdict) => {
    const block = policy(`
metadata: {name: block}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: "${cidr}", except: ${JSON.stringify(except)}}}]}]
`);
    expect(evaluate([block]).verdict).toBe(verdict);
  });

  it('an IPv4 block never matches an IPv6 cache, ::/0 does', () => {
    const v6 = address('fd00::10');
    const all4 = policy(`
metadata: {name: all4}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]}`);
    const all6 = policy(`
metadata: {name: all6}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: "::/0"}}]}]}`);
    expect(evaluate([all4], web, v6).verdict).toBe('blocked');
    expect(evaluate([all6], web, v6).verdict).toBe('allowed');
  });

  it('an empty `to` allows every destination and empty `ports` every port', () => {
    const anyDestination = policy(`
metadata: {name: any-destination}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`);
    const anyPort = policy(`
metadata: {name: any-port}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 169.254.20.10/32}}]}]}`);
    const explicitEmpty = policy(`
metadata: {name: explicit-empty}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [], ports: []}]}`);
    expect(evaluate([anyDestination]).verdict).toBe('allowed');
    expect(evaluate([anyPort]).verdict).toBe('allowed');
    expect(evaluate([explicitEmpty]).verdict).toBe('allowed');
  });

  it('`to` AND `ports`: the right port to the wrong place, or the right place on the wrong port, is blocked', () => {
    const wrongPlace = policy(`
metadata: {name: wrong-place}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{protocol: UDP, port: 53}]}]}`);
    const wrongPort = policy(`
metadata: {name: wrong-port}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 169.254.20.10/32}}], ports: [{protocol: UDP, port: 5353}]}]}`);
    expect(evaluate([wrongPlace, wrongPort]).verdict).toBe('blocked');
  });

  it('SCTP 53 is not DNS', () => {
    const sctp = policy(`
metadata: {name: sctp}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{protocol: SCTP, port: 53}]}]}`);
    expect(evaluate([sctp]).verdict).toBe('blocked');
  });

  it('a named port names the destination pod`s container port: it never matches the cache, and a note says so', () => {
    const named = policy(`
metadata: {name: named}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 169.254.20.10/32}}], ports: [{protocol: UDP, port: dns}]}]}`);
    const v = evaluate([named]);
    expect(v.verdict).toBe('blocked');
    expect(v.notes).toEqual([
      "shop/named egress[0]: the named port in UDP ports refers to the destination pods' containers, never a node",
    ]);
  });

  it('podSelector or namespaceSelector peers never match the host-network cache, even selecting everything', () => {
    const everyPod = policy(`
metadata: {name: every-pod}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {}}, {namespaceSelector: {}}]}]
`);
    const v = evaluate([everyPod]);
    expect(v.verdict).toBe('blocked');
    expect(v.udp.podPeersOnly).toEqual([{ namespace: 'shop', name: 'every-pod', rule: 0 }]);
  });

  it('a rule mixing a pod selector and a matching ipBlock is allowed by the ipBlock, and is not "pods only"', () => {
    const mixed = policy(`
metadata: {name: mixed}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}, {ipBlock: {cidr: 169.254.20.10/32}}]}]
`);
    const v = evaluate([mixed]);
    expect(v.verdict).toBe('allowed');
    expect(v.udp.podPeersOnly).toEqual([]);
  });
});

describe('who is isolated', () => {
  it('a policy of another namespace never matters, even one selecting every pod', () => {
    const elsewhere = policy('metadata: {name: deny}\nspec: {podSelector: {}, policyTypes: [Egress]}', 'kube-system');
    expect(evaluate([elsewhere]).verdict).toBe('not-isolated');
  });

  it('policyTypes defaulting: egress rules and no policyTypes mean Ingress and Egress; neither means Ingress only', () => {
    const withEgress = policy(`
metadata: {name: with-egress}
spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}`);
    const withoutEgress = policy('metadata: {name: without-egress}\nspec: {podSelector: {}}');
    const emptyTypes = policy('metadata: {name: empty-types}\nspec: {podSelector: {}, policyTypes: [], egress: []}');
    expect(withEgress.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(withoutEgress.policyTypes).toEqual(['Ingress']);
    expect(emptyTypes.policyTypes).toEqual(['Ingress']);
    expect(evaluate([withEgress]).verdict).toBe('blocked');
    expect(evaluate([withoutEgress]).verdict).toBe('not-isolated');
    expect(evaluate([emptyTypes]).verdict).toBe('not-isolated');
  });

  it('a pod not matched by the podSelector is not isolated by it', () => {
    const dbOnly = policy('metadata: {name: db}\nspec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Egress]}');
    expect(evaluate([dbOnly]).verdict).toBe('not-isolated');
  });

  it('an invalid operator selects nothing, and a note names the policy and the operator', () => {
    const bad = policy(`
metadata: {name: bad}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Equals, values: [web]}]}
  policyTypes: [Egress]
`);
    const v = evaluate([bad]);
    expect(v.verdict).toBe('not-isolated');
    expect(v.notes).toEqual(['shop/bad: podSelector selects nothing: "Equals" is not a valid label selector operator']);
  });

  it('lists are bounded: 10 policies named, all counted', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ ...DEFAULT_DENY_EGRESS, name: `deny-${i}` }));
    const v = evaluate(many);
    expect(v.selectedBy).toHaveLength(MAX_REFS);
    expect(v.selectedCount).toBe(25);
  });

  it('notes are bounded too, with a count of the rest', () => {
    const named = policy(`
metadata: {name: named}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{protocol: UDP, port: dns}]}]}`);
    const many = Array.from({ length: 30 }, (_, i) => ({ ...named, name: `named-${i}` }));
    const v = evaluate(many);
    expect(v.notes).toHaveLength(MAX_REFS + 1);
    expect(v.notes.at(-1)).toBe('… and 20 more');
  });
});

describe('label selectors (apimachinery semantics)', () => {
  const labels = { app: 'web', tier: 'front' };
  const sel = (matchLabels: Record<string, string>, ...matchExpressions: [string, string, string[]][]) => ({
    matchLabels,
    matchExpressions: matchExpressions.map(([key, operator, values]) => ({ key, operator, values })),
  });

  it.each([
    [sel({}), true],
    [sel({ app: 'web' }), true],
    [sel({ app: 'web', tier: 'back' }), false],
    [sel({ missing: '' }), false],
    [sel({}, ['app', 'In', ['web', 'api']]), true],
    [sel({}, ['app', 'In', ['api']]), false],
    [sel({}, ['missing', 'In', ['x']]), false],
    [sel({}, ['app', 'NotIn', ['api']]), true],
    [sel({}, ['app', 'NotIn', ['web']]), false],
    // NotIn holds when the label is absent.
    [sel({}, ['missing', 'NotIn', ['x']]), true],
    [sel({}, ['app', 'Exists', []]), true],
    [sel({}, ['missing', 'Exists', []]), false],
    [sel({}, ['missing', 'DoesNotExist', []]), true],
    [sel({}, ['app', 'DoesNotExist', []]), false],
    [sel({ app: 'web' }, ['tier', 'In', ['front']], ['missing', 'DoesNotExist', []]), true],
    [sel({ app: 'web' }, ['tier', 'In', ['back']]), false],
  ])('%j selects {app: web, tier: front}: %s', (selector, expected) => {
    expect(matchSelector(selector, labels)).toEqual({ matches: expected });
  });

  it.each([
    [sel({}, ['app', 'Equals', ['web']]), '"Equals" is not a valid label selector operator'],
    [sel({}, ['app', 'in', ['web']]), '"in" is not a valid label selector operator'],
    [sel({}, ['app', 'In', []]), 'operator In on "app" needs at least one value'],
    [sel({}, ['app', 'NotIn', []]), 'operator NotIn on "app" needs at least one value'],
    [sel({}, ['app', 'Exists', ['web']]), 'operator Exists on "app" takes no values'],
    [sel({}, ['app', 'DoesNotExist', ['web']]), 'operator DoesNotExist on "app" takes no values'],
  ])('an invalid selector selects nothing: %j', (selector, why) => {
    expect(matchSelector(selector, labels)).toEqual({ matches: false, invalid: why });
  });

  it('labels named like Object.prototype members are only matched when present', () => {
    expect(matchSelector(sel({}, ['constructor', 'Exists', []]), {}).matches).toBe(false);
    expect(matchSelector(sel({ toString: 'x' }), {}).matches).toBe(false);
  });

  it('formats as kubectl does', () => {
    expect(formatSelector(sel({}))).toBe('<all>');
    expect(
      formatSelector(
        sel(
          { app: 'web' },
          ['tier', 'In', ['a', 'b']],
          ['x', 'NotIn', ['c']],
          ['y', 'Exists', []],
          ['z', 'DoesNotExist', []],
        ),
      ),
    ).toBe('app=web,tier in (a,b),x notin (c),y,!z');
  });
});

describe('allowDnsPolicyYaml', () => {
  it('is a NetworkPolicy named allow-node-local-dns allowing UDP and TCP 53 to exactly the cache', () => {
    const text = allowDnsPolicyYaml('shop', [CACHE]);
    expect(text.startsWith('# ')).toBe(true);
    expect(parse(text)).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-node-local-dns', namespace: 'shop' },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ ipBlock: { cidr: '169.254.20.10/32' } }],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      },
    });
  });

  it('refuses to write a rule without an address, which would allow DNS to every destination', () => {
    expect(() => allowDnsPolicyYaml('shop', [])).toThrow('allowDnsPolicyYaml needs at least one cache address');
  });

  it('selects the pods of the isolating policy when given its podSelector, so it isolates no one new', () => {
    const isolating = policy(`
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: Exists}]}
  policyTypes: [Egress]
`);
    const fix = policy(allowDnsPolicyYaml('shop', [CACHE], isolating.podSelector));
    expect(fix.podSelector).toEqual(isolating.podSelector);
    expect(evaluate([isolating, fix]).verdict).toBe('allowed');
    const api = { namespace: 'shop', labels: { app: 'api' } };
    expect(evaluate([isolating, fix], api).verdict).toBe('not-isolated');
    // With {} it would isolate the api pods and cut their other egress: the reason for the parameter.
    expect(evaluate([isolating, FIX], api).verdict).toBe('allowed');
    expect(evaluate([isolating, FIX], api, address('10.0.0.1')).verdict).toBe('blocked');
  });
});
