/**
 * A cluster's DNS objects as the API server holds them, for the fake API (./fake-kube-api.ts) and for offline files:
 * the kube-dns Service, the CoreDNS ConfigMap (kubeadm's Corefile), the NodeLocal DNSCache DaemonSet (upstream
 * nodelocaldns.yaml: `-localip` with the link-local IP, plus the kube-dns IP in iptables "transparent" mode) and the
 * NetworkPolicies people write ("default deny egress", "DNS to kube-dns only", the ipBlock that lets DNS reach the
 * cache). Plain data; `seedClusterDns` puts the first three into a fake API.
 */
import type { FakeKubeApi, ObjectInput } from './fake-kube-api.ts';

export const KUBE_SYSTEM = 'kube-system';
export const KUBE_DNS_IP = '10.96.0.10';
export const NODE_LOCAL_IP = '169.254.20.10';

export function kubeDnsService(ips: readonly string[] = [KUBE_DNS_IP], name = 'kube-dns'): ObjectInput {
  return {
    metadata: { name, namespace: KUBE_SYSTEM, labels: { 'k8s-app': 'kube-dns' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: ips[0],
      clusterIPs: [...ips],
      selector: { 'k8s-app': 'kube-dns' },
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  };
}

/** kubeadm's Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go), for `domain`. */
export function coreDnsConfigMap(domain = 'cluster.local'): ObjectInput {
  const corefile = [
    '.:53 {',
    '    errors',
    '    health {',
    '       lameduck 5s',
    '    }',
    '    ready',
    `    kubernetes ${domain} in-addr.arpa ip6.arpa {`,
    '       pods insecure',
    '       fallthrough in-addr.arpa ip6.arpa',
    '       ttl 30',
    '    }',
    '    prometheus :9153',
    '    forward . /etc/resolv.conf {',
    '       max_concurrent 1000',
    '    }',
    '    cache 30',
    '    loop',
    '    reload',
    '    loadbalance',
    '}',
    '',
  ].join('\n');
  return { metadata: { name: 'coredns', namespace: KUBE_SYSTEM }, data: { Corefile: corefile } };
}

export interface NodeLocalOptions {
  name?: string | undefined;
  /** iptables mode: `-localip` also lists the kube-dns IP. */
  transparent?: boolean | undefined;
  desired?: number | undefined;
  available?: number | undefined;
  localIp?: string | undefined;
}

/** The upstream node-local-dns DaemonSet (cluster/addons/dns/nodelocaldns/nodelocaldns.yaml), with its status. */
export function nodeLocalDaemonSet(options: NodeLocalOptions = {}): ObjectInput {
  const ip = options.localIp ?? NODE_LOCAL_IP;
  const desired = options.desired ?? 3;
  const localip = options.transparent ? `${ip},${KUBE_DNS_IP}` : ip;
  return {
    metadata: {
      name: options.name ?? 'node-local-dns',
      namespace: KUBE_SYSTEM,
      labels: { 'k8s-app': 'node-local-dns' },
    },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'node-local-dns' } },
      template: {
        metadata: { labels: { 'k8s-app': 'node-local-dns' } },
        spec: {
          hostNetwork: true,
          dnsPolicy: 'Default',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          containers: [
            {
              name: 'node-cache',
              image: 'registry.k8s.io/dns/k8s-dns-node-cache:1.26.4',
              args: ['-localip', localip, '-conf', '/etc/Corefile', '-upstreamsvc', 'kube-dns-upstream'],
            },
          ],
        },
      },
    },
    status: {
      desiredNumberScheduled: desired,
      currentNumberScheduled: desired,
      numberReady: options.available ?? desired,
      numberAvailable: options.available ?? desired,
    },
  };
}

/** "Default deny egress" for every pod of `namespace`. */
export function denyAllEgress(namespace: string, name = 'default-deny-egress'): ObjectInput {
  return { metadata: { name, namespace }, spec: { podSelector: {}, policyTypes: ['Egress'] } };
}

/** The usual "DNS to kube-dns only" rule: pod and namespace selectors, which never match the node-local cache. */
export function dnsToKubeDnsOnly(namespace: string, name = 'allow-dns-to-kube-dns'): ObjectInput {
  return {
    metadata: { name, namespace },
    spec: {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': KUBE_SYSTEM } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    },
  };
}

/** An egress rule letting DNS reach the cache: an ipBlock of its address, UDP (and TCP unless `udpOnly`). */
export function dnsToNodeLocal(namespace: string, options: { udpOnly?: boolean; name?: string } = {}): ObjectInput {
  const ports = [{ protocol: 'UDP', port: 53 }, ...(options.udpOnly ? [] : [{ protocol: 'TCP', port: 53 }])];
  return {
    metadata: { name: options.name ?? 'allow-node-local-dns', namespace },
    spec: {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: `${NODE_LOCAL_IP}/32` } }], ports }],
    },
  };
}

/** A whole object as `kubectl get -o yaml` prints it (for offline files). */
export function asListed(kind: string, apiVersion: string, object: ObjectInput): Record<string, unknown> {
  return { apiVersion, kind, ...object };
}

/**
 * kube-system with the kube-dns Service, the CoreDNS ConfigMap and (unless `nodeLocal` is false) a node-local-dns
 * DaemonSet with every pod available, in link-local (IPVS) mode unless `transparent`.
 */
export function seedClusterDns(
  fake: FakeKubeApi,
  options: { nodeLocal?: boolean | undefined } & NodeLocalOptions = {},
): void {
  if (!fake.names().includes(KUBE_SYSTEM)) fake.create(KUBE_SYSTEM);
  fake.createObject('services', kubeDnsService());
  fake.createObject('configmaps', coreDnsConfigMap());
  if (options.nodeLocal !== false) fake.createObject('daemonsets', nodeLocalDaemonSet(options));
}
