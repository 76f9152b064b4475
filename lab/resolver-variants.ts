/**
 * The resolv.conf variants and the DNS world the resolver tests (and the DNS benchmark) run against the real
 * resolvers: the Kubernetes default, dns-tuner's default, lower ndots, glibc-only options, outages and the two
 * resolv.conf shapes that break a resolver outright (musl's 255-byte line limit, glibc's search-list assertion).
 */

import { type ResolvConf, type ResolvConfContext, renderResolvConf } from '../src/core/resolv-conf.ts';
import { defaultNameForms, worldOf } from '../src/resolver-model/name-forms.ts';
import type { World } from '../src/resolver-model/query-cost.ts';
import type { LabRecord } from './dns-lab.ts';

export const NODE_LOCAL = '169.254.20.10';
export const KUBE_DNS = '10.96.0.10';
const CLUSTER_DOMAIN = 'cluster.local';

/** A node like the worked examples: kube-dns 10.96.0.10, node search domain ec2.internal. */
function nodeContext(namespace: string, hostSearchDomains = ['ec2.internal']): ResolvConfContext {
  return { namespace, clusterDomain: CLUSTER_DOMAIN, clusterDNS: [KUBE_DNS], hostSearchDomains };
}

/** What exists: a Service in the pod's namespace, one in `payments`, three external names. */
export function labRecords(namespace: string): LabRecord[] {
  return [
    { name: `my-svc.${namespace}.svc.${CLUSTER_DOMAIN}`, ipv4: '10.100.0.1' },
    { name: `api.payments.svc.${CLUSTER_DOMAIN}`, ipv4: '10.100.0.2' },
    { name: 'example.com', ipv4: '192.0.2.1' },
    { name: 'api.example.com', ipv4: '192.0.2.2', ipv6: '2001:db8::2' },
    { name: 's3.eu-west-1.amazonaws.com', ipv4: '192.0.2.3' },
  ];
}

/** Every name form the product shows, the absolute FQDN, a Service in another namespace, and a missing name. */
function labNames(namespace: string): string[] {
  const forms = defaultNameForms({ namespace, clusterDomain: CLUSTER_DOMAIN, absolute: true });
  return [...forms.map((f) => f.name), 'api.payments', 'does-not-exist'];
}

/** The model's view of the same records (dnsmasq, like CoreDNS, answers no-data for their ancestors). */
export function worldFromRecords(records: readonly LabRecord[], down: readonly string[] = []): World {
  return worldOf(
    new Map(records.map((r) => [r.name, r.ipv4 !== undefined || r.ipv6 !== undefined ? 'address' : 'nodata'] as const)),
    down,
  );
}

export interface ResolverVariant {
  label: string;
  namespace: string;
  conf: ResolvConf;
  /** The resolv.conf text, as kubelet + the runtime write it. */
  text: string;
  names: string[];
  records: LabRecord[];
  /** Nameservers dropping every packet. */
  drop?: string[];
  resolvers?: Array<'glibc' | 'musl'>;
}

function variant(
  label: string,
  namespace: string,
  pod: Parameters<typeof renderResolvConf>[0],
  extra: Partial<Pick<ResolverVariant, 'names' | 'records' | 'drop' | 'resolvers'>> & {
    hostSearchDomains?: string[];
  } = {},
): ResolverVariant {
  const rendered = renderResolvConf(pod, nodeContext(namespace, extra.hostSearchDomains));
  return {
    label,
    namespace,
    conf: { nameservers: rendered.nameservers, searches: rendered.searches, options: rendered.options },
    text: rendered.text,
    names: extra.names ?? labNames(namespace),
    records: extra.records ?? labRecords(namespace),
    ...(extra.drop ? { drop: extra.drop } : {}),
    ...(extra.resolvers ? { resolvers: extra.resolvers } : {}),
  };
}

const clusterSearches = (ns: string) => [`${ns}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];

/** dns-tuner's `None` shape: node-local first, kube-dns as fallback, the cluster search list + the node's. */
function tuned(ns: string, options: string): Parameters<typeof renderResolvConf>[0] {
  return {
    dnsPolicy: 'None',
    dnsConfig: {
      nameservers: [NODE_LOCAL, KUBE_DNS],
      searches: [...clusterSearches(ns), 'ec2.internal'],
      options: options.split(' ').map((token) => {
        const [name, value] = token.split(':') as [string, string | undefined];
        return value === undefined ? { name } : { name, value };
      }),
    },
  };
}

/** 201 characters in labels of at most 63: with the 55 bytes of `shop`'s cluster domains glibc 2.36 aborts. */
export const ABORTING_DOMAIN = `${'h'.repeat(63)}.${'i'.repeat(63)}.${'j'.repeat(63)}.${'k'.repeat(9)}`;

export const LONG_NAMESPACE = 'checkout-payments-reconciliation';
const LONG_HOST_SEARCH = [
  'eu-west-1.compute.internal',
  'corp.example.com',
  'prod.corp.example.com',
  'staging.corp.example.com',
  'dev.corp.example.com',
  'ec2.internal',
  'svc.corp.example.com',
  'us-east-1.compute.internal',
];

export const VARIANTS: ResolverVariant[] = [
  variant('Kubernetes default (ClusterFirst: kube-dns only, ndots:5)', 'shop', { dnsPolicy: 'ClusterFirst' }),
  variant(
    'dns-tuner default (None: node-local + kube-dns, ndots:3 timeout:1)',
    'shop',
    tuned('shop', 'ndots:3 timeout:1'),
  ),
  variant('node-local + kube-dns, ndots:2', 'shop', tuned('shop', 'ndots:2 timeout:1')),
  variant('node-local + kube-dns, ndots:1', 'shop', tuned('shop', 'ndots:1 timeout:1')),
  variant(
    'search line of 255+ bytes (long namespace, corporate search domains)',
    LONG_NAMESPACE,
    { dnsPolicy: 'ClusterFirst' },
    {
      hostSearchDomains: LONG_HOST_SEARCH,
    },
  ),
  variant(
    'glibc-only options (single-request-reopen no-tld-query no-aaaa), ndots:2',
    'shop',
    tuned('shop', 'ndots:2 timeout:1 single-request-reopen no-tld-query no-aaaa'),
  ),
  variant('rotate, ndots:5', 'shop', tuned('shop', 'ndots:5 timeout:1 rotate')),
  variant(
    'no-data answer in the search path (ndots:5)',
    'shop',
    { dnsPolicy: 'ClusterFirst' },
    {
      records: [...labRecords('shop'), { name: 'api.example.com.shop.svc.cluster.local' }],
    },
  ),
  variant('node-local dropping packets (timeout:1, ndots:3)', 'shop', tuned('shop', 'ndots:3 timeout:1'), {
    names: ['my-svc', 'my-svc.shop.svc.cluster.local', 's3.eu-west-1.amazonaws.com'],
    drop: [NODE_LOCAL],
  }),
  variant(
    'glibc search-list assertion (a 201-character node search domain)',
    'shop',
    { dnsPolicy: 'ClusterFirst' },
    {
      hostSearchDomains: [ABORTING_DOMAIN],
      names: ['my-svc', 'api.example.com', 'my-svc.shop.svc.cluster.local.'],
    },
  ),
];
