/**
 * Reading the cluster objects as the apiserver prints them (unknown fields, nulls, defaulted values) and projecting
 * them into the core's facts: kube-dns's Service, CoreDNS's ConfigMap, NodeLocal DNSCache DaemonSets as upstream
 * (iptables and IPVS mode) and kubespray ship them, NetworkPolicies; errors name the object, the field and the value.
 */
import { NetworkPolicy as NetworkPolicyModel } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseIp } from '../../src/core/ip.ts';
import { allowDnsPolicyYaml, evaluateDnsEgress } from '../../src/core/network-policy.ts';
import {
  configMapClusterDomain,
  daemonSetNodeLocal,
  daemonSetView,
  networkPolicy,
  type Projection,
  serviceClusterIps,
} from '../../src/kube/cluster-objects.ts';

function value<T>(projection: Projection<T>): T {
  if (!projection.ok) throw new Error(projection.error);
  return projection.value;
}

function error<T>(projection: Projection<T>): string {
  if (projection.ok) throw new Error(`expected an error, got ${JSON.stringify(projection.value)}`);
  return projection.error;
}

/** `kubectl -n kube-system get svc kube-dns -o yaml` on kubeadm. */
const KUBE_DNS = `
apiVersion: v1
kind: Service
metadata:
  annotations:
    prometheus.io/port: "9153"
    prometheus.io/scrape: "true"
  creationTimestamp: "2026-11-01T10:00:00Z"
  labels:
    k8s-app: kube-dns
    kubernetes.io/cluster-service: "true"
    kubernetes.io/name: CoreDNS
  name: kube-dns
  namespace: kube-system
  resourceVersion: "245"
  uid: 3b1c6a4e-2f7d-4d55-9a53-6a1f3b9c0d11
spec:
  clusterIP: 10.96.0.10
  clusterIPs:
  - 10.96.0.10
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  ports:
  - name: dns
    port: 53
    protocol: UDP
    targetPort: 53
  - name: dns-tcp
    port: 53
    protocol: TCP
    targetPort: 53
  - name: metrics
    port: 9153
    protocol: TCP
    targetPort: 9153
  selector:
    k8s-app: kube-dns
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer: {}
`;

describe('Service: the kube-dns cluster IPs', () => {
  it('kubeadm single-stack', () => {
    expect(value(serviceClusterIps(parse(KUBE_DNS)))).toEqual(['10.96.0.10']);
  });

  it('dual-stack: one per family, IPv6 as Go prints it', () => {
    const svc = parse(KUBE_DNS);
    svc.spec.clusterIPs = ['10.96.0.10', 'FD00:10:96:0:0:0:0:A'];
    svc.spec.ipFamilies = ['IPv4', 'IPv6'];
    expect(value(serviceClusterIps(svc))).toEqual(['10.96.0.10', 'fd00:10:96::a']);
  });

  it('an older object with clusterIP only; leading zeros read as the apiserver reads them', () => {
    const svc = parse(KUBE_DNS);
    delete svc.spec.clusterIPs;
    svc.spec.clusterIP = '010.096.000.010';
    expect(value(serviceClusterIps(svc))).toEqual(['10.96.0.10']);
  });

  it('headless or unallocated: no IPs', () => {
    const svc = parse(KUBE_DNS);
    svc.spec.clusterIP = 'None';
    svc.spec.clusterIPs = ['None'];
    expect(value(serviceClusterIps(svc))).toEqual([]);
    expect(value(serviceClusterIps({ metadata: { namespace: 'a', name: 'b' }, spec: { clusterIP: '' } }))).toEqual([]);
  });

  it('a bad IP is an error naming the object, the field and the value', () => {
    const svc = parse(KUBE_DNS);
    svc.spec.clusterIPs = ['10.96.0.10', 'fe80::a%eth0'];
    expect(error(serviceClusterIps(svc))).toBe(
      'Service kube-system/kube-dns: spec.clusterIPs.1: "fe80::a%eth0" is not an IP address',
    );
    svc.spec.clusterIPs = 'oops';
    expect(error(serviceClusterIps(svc))).toBe(
      'Service kube-system/kube-dns: spec.clusterIPs: must be array, got "oops"',
    );
    expect(error(serviceClusterIps({ spec: {} }))).toBe('Service (unnamed): metadata: is required');
  });
});

describe('ConfigMap: the cluster domain', () => {
  const coredns = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'coredns', namespace: 'kube-system', resourceVersion: '230', uid: 'x' },
    data: {
      Corefile:
        '.:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n',
    },
  };

  it('reads the kubernetes plugin zone', () => {
    expect(value(configMapClusterDomain(coredns))).toBe('cluster.local');
  });

  it('no data, no Corefile key, or no kubernetes plugin: undefined', () => {
    expect(value(configMapClusterDomain({ ...coredns, data: null }))).toBeUndefined();
    expect(value(configMapClusterDomain({ ...coredns, data: { other: 'x' } }))).toBeUndefined();
    expect(value(configMapClusterDomain({ ...coredns, data: { Corefile: '.:53 {\n forward . 8.8.8.8\n}' } }))).toBe(
      undefined,
    );
  });

  it('a non-string value is an error naming the key', () => {
    expect(error(configMapClusterDomain({ ...coredns, data: { Corefile: 42 } }))).toBe(
      'ConfigMap kube-system/coredns: data.Corefile: must be string, got 42',
    );
  });
});

/**
 * `kubectl -n kube-system get ds node-local-dns -o yaml` for the upstream manifest
 * (cluster/addons/dns/nodelocaldns/nodelocaldns.yaml) with its pillars substituted as the docs say.
 */
function upstreamDaemonSet(localip: string): unknown {
  return parse(`
apiVersion: apps/v1
kind: DaemonSet
metadata:
  annotations:
    deprecated.daemonset.template.generation: "1"
  labels:
    addonmanager.kubernetes.io/mode: Reconcile
    k8s-app: node-local-dns
    kubernetes.io/cluster-service: "true"
  name: node-local-dns
  namespace: kube-system
spec:
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      k8s-app: node-local-dns
  template:
    metadata:
      annotations:
        prometheus.io/port: "9253"
        prometheus.io/scrape: "true"
      creationTimestamp: null
      labels:
        k8s-app: node-local-dns
    spec:
      containers:
      - args:
        - -localip
        - ${localip}
        - -conf
        - /etc/Corefile
        - -upstreamsvc
        - kube-dns-upstream
        - -pidfile
        - /tmp/node-cache.pid
        image: registry.k8s.io/dns/k8s-dns-node-cache:1.26.4
        imagePullPolicy: IfNotPresent
        livenessProbe:
          failureThreshold: 3
          httpGet:
            host: 169.254.20.10
            path: /health
            port: 8080
            scheme: HTTP
          initialDelaySeconds: 60
          periodSeconds: 10
          successThreshold: 1
          timeoutSeconds: 5
        name: node-cache
        ports:
        - containerPort: 53
          hostPort: 53
          name: dns
          protocol: UDP
        - containerPort: 53
          hostPort: 53
          name: dns-tcp
          protocol: TCP
        - containerPort: 9253
          hostPort: 9253
          name: metrics
          protocol: TCP
        resources:
          requests:
            cpu: 25m
            memory: 5Mi
        securityContext:
          capabilities:
            add:
            - NET_ADMIN
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: Default
      hostNetwork: true
      priorityClassName: system-node-critical
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      serviceAccountName: node-local-dns
      terminationGracePeriodSeconds: 30
      tolerations:
      - key: CriticalAddonsOnly
        operator: Exists
      - effect: NoExecute
        operator: Exists
      - effect: NoSchedule
        operator: Exists
  updateStrategy:
    rollingUpdate:
      maxSurge: 0
      maxUnavailable: 10%
    type: RollingUpdate
status:
  currentNumberScheduled: 3
  desiredNumberScheduled: 3
  numberAvailable: 3
  numberMisscheduled: 0
  numberReady: 3
  observedGeneration: 1
  updatedNumberScheduled: 3
`);
}

/** kubespray's roles/kubernetes-apps/ansible/templates/nodelocaldns-daemonset.yml.j2, rendered with its defaults. */
const KUBESPRAY = parse(`
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: nodelocaldns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
    addonmanager.kubernetes.io/mode: Reconcile
spec:
  selector:
    matchLabels:
      k8s-app: node-local-dns
  template:
    metadata:
      labels:
        k8s-app: node-local-dns
    spec:
      nodeSelector:
        kubernetes.io/os: linux
      priorityClassName: system-node-critical
      serviceAccountName: nodelocaldns
      hostNetwork: true
      dnsPolicy: Default
      containers:
      - name: node-cache
        image: registry.k8s.io/dns/k8s-dns-node-cache:1.25.0
        args:
        - -localip
        - 169.254.25.10
        - -conf
        - /etc/Corefile
        - -upstreamsvc
        - coredns
        ports:
        - containerPort: 53
          name: dns
          protocol: UDP
  updateStrategy:
    rollingUpdate:
      maxUnavailable: 20%
    type: RollingUpdate
status:
  desiredNumberScheduled: 5
  numberAvailable: 4
  numberUnavailable: 1
`);

describe('DaemonSet: NodeLocal DNSCache', () => {
  const kubeDns = ['10.96.0.10'];

  it('upstream node-local-dns in iptables mode: transparent, both addresses', () => {
    expect(value(daemonSetNodeLocal(upstreamDaemonSet('169.254.20.10,10.96.0.10'), kubeDns))).toEqual({
      mode: 'transparent',
      ips: ['169.254.20.10', '10.96.0.10'],
      available: true,
      daemonSet: 'kube-system/node-local-dns',
      pods: { desired: 3, available: 3 },
    });
  });

  it('upstream node-local-dns in IPVS mode (",__PILLAR__DNS__SERVER__" removed): link-local', () => {
    expect(value(daemonSetNodeLocal(upstreamDaemonSet('169.254.20.10'), kubeDns))).toEqual({
      mode: 'link-local',
      ips: ['169.254.20.10'],
      available: true,
      daemonSet: 'kube-system/node-local-dns',
      pods: { desired: 3, available: 3 },
    });
  });

  it('kubespray nodelocaldns on 169.254.25.10, one node without an available pod (a rolling update): available', () => {
    // kubespray's CoreDNS Service is coredns at 10.233.0.3.
    expect(value(daemonSetNodeLocal(KUBESPRAY, ['10.233.0.3']))).toEqual({
      mode: 'link-local',
      ips: ['169.254.25.10'],
      available: true,
      daemonSet: 'kube-system/nodelocaldns',
      pods: { desired: 5, available: 4 },
    });
  });

  it('a DaemonSet that runs no node-cache', () => {
    const ds = upstreamDaemonSet('169.254.20.10') as {
      spec: { template: { spec: { containers: { args: unknown }[] } } };
    };
    ds.spec.template.spec.containers[0]!.args = ['--v=2'];
    expect(value(daemonSetNodeLocal(ds, kubeDns))).toBeUndefined();
  });

  it('a new DaemonSet without status yet: nothing scheduled, unavailable', () => {
    const ds = upstreamDaemonSet('169.254.20.10') as Record<string, unknown>;
    delete ds.status;
    expect(value(daemonSetView(ds))).toMatchObject({ desiredNumberScheduled: 0, numberAvailable: 0 });
    expect(value(daemonSetNodeLocal(ds, kubeDns))?.available).toBe(false);
  });

  it('null command and args read as empty', () => {
    const ds = upstreamDaemonSet('169.254.20.10') as { spec: { template: { spec: { containers: unknown[] } } } };
    ds.spec.template.spec.containers.push({ name: 'sidecar', command: null, args: null });
    expect(value(daemonSetView(ds)).containers[1]).toEqual({ name: 'sidecar', command: [], args: [] });
  });

  it('errors name the field and the value', () => {
    const ds = upstreamDaemonSet('169.254.20.10') as {
      spec: { template: { spec: { containers: { args: unknown }[] } } };
    };
    ds.spec.template.spec.containers[0]!.args = ['-localip', 169];
    expect(error(daemonSetView(ds))).toBe(
      'DaemonSet kube-system/node-local-dns: spec.template.spec.containers.0.args.1: must be string, got 169',
    );
  });
});

describe('NetworkPolicy projection', () => {
  const base = { metadata: { namespace: 'shop', name: 'p' } };

  it('reads what the apiserver prints, nulls included', () => {
    const printed = parse(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{}'
  generation: 1
  name: allow-dns
  namespace: shop
  resourceVersion: "1234"
  uid: 0f6b1c9e-1d1f-4b8a-8f4e-2a3c4d5e6f70
spec:
  egress:
  - ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
    to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchExpressions:
        - key: k8s-app
          operator: In
          values: [kube-dns, coredns]
  - to:
    - ipBlock:
        cidr: 10.0.0.0/8
        except: null
  podSelector: {}
  policyTypes:
  - Egress
`);
    expect(value(networkPolicy(printed))).toEqual({
      namespace: 'shop',
      name: 'allow-dns',
      podSelector: { matchLabels: {}, matchExpressions: [] },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
                matchExpressions: [],
              },
              podSelector: {
                matchLabels: {},
                matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns', 'coredns'] }],
              },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: [] } }], ports: [] },
      ],
    });
  });

  it('a null or missing podSelector is {} (a Go struct, not a pointer); null lists are empty', () => {
    const p = value(networkPolicy({ ...base, spec: { podSelector: null, egress: null, policyTypes: null } }));
    expect(p).toEqual({
      namespace: 'shop',
      name: 'p',
      podSelector: { matchLabels: {}, matchExpressions: [] },
      policyTypes: ['Ingress'],
      egress: [],
    });
    expect(value(networkPolicy({ ...base, spec: {} })).podSelector).toEqual({ matchLabels: {}, matchExpressions: [] });
    const nulls = { matchLabels: null, matchExpressions: [{ key: 'a', operator: 'Exists', values: null }] };
    expect(value(networkPolicy({ ...base, spec: { podSelector: nulls } })).podSelector).toEqual({
      matchLabels: {},
      matchExpressions: [{ key: 'a', operator: 'Exists', values: [] }],
    });
  });

  it.each([
    [
      { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] },
      'NetworkPolicy shop/p: spec.egress.0.to.0.ipBlock.cidr: "10.0.0.0/33" is not a CIDR',
    ],
    [
      { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0'] } }] }] },
      'NetworkPolicy shop/p: spec.egress.0.to.0.ipBlock.except.0: "10.1.0.0" is not a CIDR',
    ],
    [
      { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] },
      'NetworkPolicy shop/p: spec.egress.0.to.0: ipBlock cannot be combined with podSelector or namespaceSelector',
    ],
    [
      { egress: [{ to: [{}] }] },
      'NetworkPolicy shop/p: spec.egress.0.to.0: needs an ipBlock, a podSelector or a namespaceSelector',
    ],
    [
      { egress: [{ ports: [{ protocol: 'UDP', endPort: 60 }] }] },
      'NetworkPolicy shop/p: spec.egress.0.ports.0.endPort: 60 needs a numeric port, got missing',
    ],
    [
      { egress: [{ ports: [{ protocol: 'UDP', port: 'dns', endPort: 60 }] }] },
      'NetworkPolicy shop/p: spec.egress.0.ports.0.endPort: 60 needs a numeric port, got "dns"',
    ],
    [
      { egress: [{ ports: [{ port: 100, endPort: 60 }] }] },
      'NetworkPolicy shop/p: spec.egress.0.ports.0.endPort: 60 is below port 100',
    ],
    [
      { egress: [{ ports: [{ port: 0 }] }] },
      'NetworkPolicy shop/p: spec.egress.0.ports.0.port: 0 is not a port number (1-65535)',
    ],
    [
      { egress: [{ ports: [{ protocol: 'ICMP', port: 53 }] }] },
      'NetworkPolicy shop/p: spec.egress.0.ports.0.protocol: Invalid option: expected one of "TCP"|"UDP"|"SCTP"',
    ],
    [
      { policyTypes: ['Egres'] },
      'NetworkPolicy shop/p: spec.policyTypes.0: Invalid option: expected one of "Ingress"|"Egress"',
    ],
    [
      { podSelector: { matchLabels: { app: 1 } } },
      'NetworkPolicy shop/p: spec.podSelector.matchLabels.app: must be string, got 1',
    ],
  ])('%j is refused: %s', (spec, message) => {
    expect(error(networkPolicy({ ...base, spec }))).toBe(message);
  });

  it('an object without a name or a namespace is refused', () => {
    expect(error(networkPolicy({ metadata: { name: 'p' }, spec: {} }))).toBe(
      'NetworkPolicy p: metadata.namespace: is required',
    );
    expect(error(networkPolicy(null))).toBe('NetworkPolicy (unnamed): (root): must be object, got null');
  });
});

describe('the fix policy, end to end', () => {
  const cache = parseIp('169.254.20.10')!;

  it('passes the Kubernetes OpenAPI schema and, applied, lets DNS from a default-deny namespace reach the cache', () => {
    const doc = parse(allowDnsPolicyYaml('shop', [cache]));
    expect(() => new NetworkPolicyModel(doc).validate()).not.toThrow();
    const deny = value(
      networkPolicy({
        ...doc,
        metadata: { namespace: 'shop', name: 'deny' },
        spec: { podSelector: {}, policyTypes: ['Egress'] },
      }),
    );
    const fix = value(networkPolicy(doc));
    const pod = { namespace: 'shop', labels: { app: 'web' } };
    expect(evaluateDnsEgress([deny], pod, cache).verdict).toBe('blocked');
    expect(evaluateDnsEgress([deny, fix], pod, cache).verdict).toBe('allowed');
  });

  it('with a podSelector with expressions, still valid', () => {
    const selector = {
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front'] },
        { key: 'legacy', operator: 'DoesNotExist', values: [] },
      ],
    };
    const doc = parse(allowDnsPolicyYaml('shop', [cache, parseIp('10.96.0.10')!], selector));
    expect(() => new NetworkPolicyModel(doc).validate()).not.toThrow();
    expect(doc.spec.podSelector).toEqual({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front'] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    expect(value(networkPolicy(doc)).podSelector).toEqual(selector);
  });
});
