/**
 * Cluster facts from projected objects: node-cache's `-localip` flag in any of its spellings and places, the node-local
 * mode it implies, the DaemonSet's availability, and the cluster domain of a CoreDNS Corefile.
 */
import { describe, expect, it } from 'vitest';
import {
  type ContainerView,
  clusterDomainFromCorefile,
  type DaemonSetView,
  daemonSetAvailable,
  localIpFlag,
  nodeLocalFromDaemonSet,
} from '../../src/core/cluster.ts';

function container(args: string[], command: string[] = [], name = 'node-cache'): ContainerView {
  return { name, command, args };
}

function daemonSet(containers: ContainerView[], desired = 3, available = 3): DaemonSetView {
  return {
    namespace: 'kube-system',
    name: 'node-local-dns',
    containers,
    desiredNumberScheduled: desired,
    numberAvailable: available,
  };
}

describe('localIpFlag: Go flag syntax, in command or args', () => {
  it.each([
    [container(['-localip', '169.254.20.10,10.96.0.10', '-conf', '/etc/Corefile']), '169.254.20.10,10.96.0.10'],
    [container(['-localip=169.254.20.10']), '169.254.20.10'],
    [container(['--localip', '169.254.20.10']), '169.254.20.10'],
    [container(['--localip=169.254.20.10']), '169.254.20.10'],
    [container([], ['/node-cache', '-localip', '169.254.25.10']), '169.254.25.10'],
    [container(['169.254.20.10', '-conf', '/etc/Corefile'], ['/node-cache', '-localip']), '169.254.20.10'],
    // A shell wrapper: the flag is inside one string.
    [container(['exec /node-cache -localip 169.254.20.10 -conf /etc/Corefile'], ['/bin/sh', '-c']), '169.254.20.10'],
    [container(["exec /node-cache -localip '169.254.20.10,10.96.0.10'"], ['sh', '-c']), '169.254.20.10,10.96.0.10'],
    [container(['-localip="169.254.20.10"']), '169.254.20.10'],
    // The last one wins, as in Go's flag package.
    [container(['-localip', '169.254.20.10', '-localip=169.254.25.10']), '169.254.25.10'],
  ])('%j → %s', (c, expected) => {
    expect(localIpFlag(c)).toBe(expected);
  });

  it.each([
    [container(['-conf', '/etc/Corefile'])],
    [container(['-localip'])],
    [container(['-localipx', '169.254.20.10'])],
    [container(['-local-ip=169.254.20.10'])],
    [container(['---localip=169.254.20.10'])],
  ])('no -localip in %j', (c) => {
    expect(localIpFlag(c)).toBeUndefined();
  });
});

describe('nodeLocalFromDaemonSet', () => {
  const kubeDns = ['10.96.0.10'];

  it('iptables mode: -localip also lists the kube-dns Service IP, so the cache is transparent', () => {
    const ds = daemonSet([container(['-localip', '169.254.20.10,10.96.0.10'])]);
    expect(nodeLocalFromDaemonSet(ds, kubeDns)).toEqual({
      mode: 'transparent',
      ips: ['169.254.20.10', '10.96.0.10'],
      available: true,
      daemonSet: 'kube-system/node-local-dns',
      pods: { desired: 3, available: 3 },
    });
  });

  it('IPVS mode: only the link-local address', () => {
    const ds = daemonSet([container(['-localip', '169.254.20.10'])]);
    expect(nodeLocalFromDaemonSet(ds, kubeDns)).toMatchObject({ mode: 'link-local', ips: ['169.254.20.10'] });
  });

  it('compares addresses, not strings: leading zeros and v4-mapped forms are the same IP', () => {
    const ds = daemonSet([container(['-localip', '169.254.20.10,::ffff:10.96.0.10'])]);
    expect(nodeLocalFromDaemonSet(ds, ['010.096.000.010'])).toMatchObject({
      mode: 'transparent',
      ips: ['169.254.20.10', '10.96.0.10'],
    });
  });

  it('IPv6: transparent when the Service IPv6 is listed, on a dual-stack Service too', () => {
    const ds = daemonSet([container(['-localip', 'fd00::a,FD00:10::0A'])]);
    expect(nodeLocalFromDaemonSet(ds, ['10.96.0.10', 'fd00:10::a'])).toMatchObject({
      mode: 'transparent',
      ips: ['fd00::a', 'fd00:10::a'],
    });
  });

  it('a DaemonSet without -localip in any container is no cache', () => {
    expect(nodeLocalFromDaemonSet(daemonSet([container(['-conf', '/etc/Corefile'])]), kubeDns)).toBeUndefined();
    expect(nodeLocalFromDaemonSet(daemonSet([]), kubeDns)).toBeUndefined();
  });

  it('the flag may sit in any container, after a sidecar', () => {
    const ds = daemonSet([container(['--v=2'], [], 'sidecar'), container(['-localip', '169.254.20.10'])]);
    expect(nodeLocalFromDaemonSet(ds, kubeDns)?.ips).toEqual(['169.254.20.10']);
  });

  it('node-cache exits on an address it cannot parse: unavailable; with no address at all, no cache', () => {
    const partly = daemonSet([container(['-localip', '169.254.20.10,10.96.0.10%eth0'])]);
    expect(nodeLocalFromDaemonSet(partly, kubeDns)).toMatchObject({
      mode: 'link-local',
      ips: ['169.254.20.10'],
      available: false,
    });
    expect(nodeLocalFromDaemonSet(daemonSet([container(['-localip', 'bogus'])]), kubeDns)).toBeUndefined();
    expect(nodeLocalFromDaemonSet(daemonSet([container(['-localip', ''])]), kubeDns)).toBeUndefined();
  });

  // Some node with an available pod is enough: a rolling update takes the pods away one node after another, and the
  // pods of a node whose cache restarts resolve through the kube-dns fallback meanwhile.
  it.each([
    [3, 3, true],
    [3, 4, true],
    [3, 2, true],
    [3, 1, true],
    [3, 0, false],
    [0, 0, false],
  ])('desired %i, available %i: available %s', (desired, available, expected) => {
    expect(daemonSetAvailable({ desiredNumberScheduled: desired, numberAvailable: available })).toBe(expected);
    const ds = daemonSet([container(['-localip', '169.254.20.10'])], desired, available);
    expect(nodeLocalFromDaemonSet(ds, kubeDns)?.available).toBe(expected);
  });
});

/** kubeadm's default Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go). */
const KUBEADM = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

describe('clusterDomainFromCorefile', () => {
  it.each([
    ['kubeadm', KUBEADM, 'cluster.local'],
    ['a custom domain', KUBEADM.replace('cluster.local', 'k8s.corp.example'), 'k8s.corp.example'],
    ['a trailing dot', KUBEADM.replace('cluster.local', 'cluster.local.'), 'cluster.local'],
    ['upper case', KUBEADM.replace('cluster.local', 'Cluster.Local'), 'cluster.local'],
    ['no plugin block', '.:53 {\n  kubernetes cluster.local\n  forward . /etc/resolv.conf\n}\n', 'cluster.local'],
    ['reverse zones first', '.:53 {\n  kubernetes in-addr.arpa ip6.arpa cluster.local\n}\n', 'cluster.local'],
    [
      'comments, including a commented-out kubernetes line',
      '# kubernetes wrong.example\n.:53 { # the main block\n  # kubernetes also.wrong\n  kubernetes cluster.local # the domain\n}\n',
      'cluster.local',
    ],
    ['a comment glued to a token', '.:53 {\n  kubernetes cluster.local#comment\n}\n', 'cluster.local'],
    ['a quoted zone', '.:53 {\n  kubernetes "cluster.local" in-addr.arpa\n}\n', 'cluster.local'],
    [
      'several server blocks, the plugin in the second',
      'example.org:53 {\n  forward . 10.0.0.1\n}\n.:53 {\n  errors\n  kubernetes cluster.local {\n    pods verified\n  }\n}\n',
      'cluster.local',
    ],
    [
      'no zones: the server block`s own',
      'cluster.local:53 in-addr.arpa:53 {\n  kubernetes\n}\n.:53 {\n  forward . /etc/resolv.conf\n}\n',
      'cluster.local',
    ],
    ['no zones, a scheme and a port on the key', 'dns://cluster.local.:53 {\n  kubernetes\n}\n', 'cluster.local'],
    ['the brace on its own line', '.:53\n{\n  kubernetes cluster.local\n}\n', 'cluster.local'],
    ['a server block without braces', '.:53\nkubernetes cluster.local\nforward . /etc/resolv.conf\n', 'cluster.local'],
    [
      'a snippet is not a server block',
      '(common) {\n  kubernetes snippet.example\n}\n.:53 {\n  kubernetes cluster.local\n}\n',
      'cluster.local',
    ],
    [
      'a line inside another plugin`s block is not a directive',
      '.:53 {\n  template IN A {\n    kubernetes nope.example\n  }\n  kubernetes cluster.local\n}\n',
      'cluster.local',
    ],
    ['CRLF line ends', KUBEADM.replaceAll('\n', '\r\n'), 'cluster.local'],
    ['tabs', '.:53 {\n\tkubernetes\tcluster.local\tin-addr.arpa {\n\t\tpods insecure\n\t}\n}\n', 'cluster.local'],
  ])('%s', (_, corefile, expected) => {
    expect(clusterDomainFromCorefile(corefile)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['no kubernetes plugin', '.:53 {\n  forward . /etc/resolv.conf\n  cache 30\n}\n'],
    ['only reverse zones', '.:53 {\n  kubernetes in-addr.arpa ip6.arpa\n}\n'],
    ['no zones and the root block', '.:53 {\n  kubernetes\n}\n'],
    ['an environment variable', '.:53 {\n  kubernetes {$CLUSTER_DOMAIN}\n}\n'],
    ['kubernetes as an argument', '.:53 {\n  forward kubernetes 10.0.0.1\n}\n'],
  ])('undefined: %s', (_, corefile) => {
    expect(clusterDomainFromCorefile(corefile)).toBeUndefined();
  });
});
