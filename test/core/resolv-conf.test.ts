/**
 * renderResolvConf against kubelet's rules (pkg/kubelet/network/dns/dns.go) and the worked examples in
 * shared/reference/kubernetes-dns.md: pod DNS type, cluster/host bases, the dnsConfig merge, and the limits with
 * their DNSConfigForming warnings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatResolvConf,
  mergeOptions,
  parseResolvConf,
  podDnsType,
  type ResolvConfContext,
  renderResolvConf,
} from '../../src/core/resolv-conf.ts';

/** The node of the worked examples: cluster.local, kube-dns 10.96.0.10, node search ec2.internal, namespace shop. */
const ctx: ResolvConfContext = {
  namespace: 'shop',
  clusterDomain: 'cluster.local',
  clusterDNS: ['10.96.0.10'],
  hostSearchDomains: ['ec2.internal'],
  hostNameservers: ['10.0.0.2'],
  hostOptions: [
    { name: 'timeout', value: '2' },
    { name: 'attempts', value: '5' },
  ],
};

const CLUSTER_SEARCH = 'search shop.svc.cluster.local svc.cluster.local cluster.local ec2.internal';

describe('worked examples (kubernetes-dns.md)', () => {
  it('ClusterFirst', () => {
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst' }, ctx);
    expect(out.text).toBe(`${CLUSTER_SEARCH}\nnameserver 10.96.0.10\noptions ndots:5\n`);
    expect(out.type).toBe('cluster');
    expect(out.warnings).toEqual([]);
  });

  it('ClusterFirst + options ndots:2, single-request-reopen', () => {
    const out = renderResolvConf(
      {
        dnsPolicy: 'ClusterFirst',
        dnsConfig: { options: [{ name: 'ndots', value: '2' }, { name: 'single-request-reopen' }] },
      },
      ctx,
    );
    expect(out.text).toBe(`${CLUSTER_SEARCH}\nnameserver 10.96.0.10\noptions ndots:2 single-request-reopen\n`);
  });

  it('None + a complete dnsConfig is exactly that', () => {
    const out = renderResolvConf(
      {
        dnsPolicy: 'None',
        dnsConfig: {
          nameservers: ['169.254.20.10', '10.96.0.10'],
          searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
          options: [{ name: 'ndots', value: '3' }],
        },
      },
      ctx,
    );
    expect(out.text).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local\n' +
        'nameserver 169.254.20.10\nnameserver 10.96.0.10\noptions ndots:3\n',
    );
    expect(out).toMatchObject({ type: 'none', warnings: [] });
  });
});

describe('pod DNS type', () => {
  it.each([
    ['None', false, 'none'],
    ['None', true, 'none'],
    ['ClusterFirstWithHostNet', false, 'cluster'],
    ['ClusterFirstWithHostNet', true, 'cluster'],
    ['ClusterFirst', false, 'cluster'],
    ['ClusterFirst', true, 'host'],
    ['Default', false, 'host'],
    ['Default', true, 'host'],
  ] as const)('%s with hostNetwork=%s is %s', (dnsPolicy, hostNetwork, type) => {
    expect(podDnsType(dnsPolicy, hostNetwork)).toBe(type);
    expect(renderResolvConf({ dnsPolicy, hostNetwork }, ctx).type).toBe(type);
  });

  it('host type copies the node resolv.conf, options included', () => {
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst', hostNetwork: true }, ctx);
    expect(out.text).toBe('search ec2.internal\nnameserver 10.0.0.2\noptions timeout:2 attempts:5\n');
  });

  it('cluster type drops the node nameservers and options', () => {
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }, ctx);
    expect(out.nameservers).toEqual(['10.96.0.10']);
    expect(out.options).toEqual([{ name: 'ndots', value: '5' }]);
  });

  it('None with no dnsConfig renders an empty file', () => {
    expect(renderResolvConf({ dnsPolicy: 'None' }, ctx)).toMatchObject({ text: '', nameservers: [], searches: [] });
  });

  it('an unknown policy is treated as ClusterFirst, with a warning', () => {
    const out = renderResolvConf({ dnsPolicy: 'Bogus' }, ctx);
    expect(out.type).toBe('cluster');
    expect(out.warnings).toEqual(['invalid DNSPolicy=Bogus: kubelet falls back to ClusterFirst']);
  });

  it('ClusterFirst without cluster DNS falls back to the host resolv.conf (MissingClusterDNS)', () => {
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst' }, { ...ctx, clusterDNS: [] });
    expect(out.type).toBe('host');
    expect(out.nameservers).toEqual(['10.0.0.2']);
    expect(out.warnings[0]).toContain('kubelet does not have ClusterDNS IP configured');
  });

  it('an empty cluster domain leaves only the node search domains', () => {
    expect(renderResolvConf({ dnsPolicy: 'ClusterFirst' }, { ...ctx, clusterDomain: '' }).searches).toEqual([
      'ec2.internal',
    ]);
  });

  it('trims a trailing dot from node search domains and removes duplicates of the cluster ones', () => {
    const out = renderResolvConf(
      { dnsPolicy: 'ClusterFirst' },
      { ...ctx, hostSearchDomains: ['cluster.local.', 'ec2.internal.', 'ec2.internal'] },
    );
    expect(out.searches).toEqual(['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'ec2.internal']);
  });
});

describe('dnsConfig merge', () => {
  it('appends nameservers after kube-dns: ClusterFirst + node-local leaves kube-dns first', () => {
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst', dnsConfig: { nameservers: ['169.254.20.10'] } }, ctx);
    expect(out.nameservers).toEqual(['10.96.0.10', '169.254.20.10']);
  });

  it('removes duplicate nameservers and searches, keeping the first position', () => {
    const out = renderResolvConf(
      {
        dnsPolicy: 'ClusterFirst',
        dnsConfig: { nameservers: ['169.254.20.10', '10.96.0.10'], searches: ['cluster.local', 'corp.example.com'] },
      },
      ctx,
    );
    expect(out.nameservers).toEqual(['10.96.0.10', '169.254.20.10']);
    expect(out.searches).toEqual([
      'shop.svc.cluster.local',
      'svc.cluster.local',
      'cluster.local',
      'ec2.internal',
      'corp.example.com',
    ]);
  });

  it('merges options by name, the pod value winning; an empty value is written as a flag', () => {
    const out = renderResolvConf(
      {
        dnsPolicy: 'Default',
        dnsConfig: { options: [{ name: 'timeout', value: '1' }, { name: 'attempts', value: '' }, { name: 'rotate' }] },
      },
      ctx,
    );
    expect(out.text.split('\n')[2]).toBe('options timeout:1 attempts rotate');
  });

  it('mergeOptions collapses duplicate names from the base too', () => {
    expect(
      mergeOptions(
        [
          { name: 'ndots', value: '5' },
          { name: 'ndots', value: '2' },
        ],
        [],
      ),
    ).toEqual([{ name: 'ndots', value: '2' }]);
  });

  it('None merges into an empty base: dnsConfig duplicates are removed', () => {
    const out = renderResolvConf(
      { dnsPolicy: 'None', dnsConfig: { nameservers: ['169.254.20.10', '169.254.20.10'], searches: ['a.b', 'a.b'] } },
      ctx,
    );
    expect(out.text).toBe('search a.b\nnameserver 169.254.20.10\n');
  });
});

describe('limits (DNSConfigForming)', () => {
  it('cuts nameservers to 3', () => {
    const out = renderResolvConf(
      { dnsPolicy: 'ClusterFirst', dnsConfig: { nameservers: ['169.254.20.10', '10.0.0.1', '10.0.0.2'] } },
      ctx,
    );
    expect(out.nameservers).toEqual(['10.96.0.10', '169.254.20.10', '10.0.0.1']);
    expect(out.warnings).toEqual([
      'Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ' +
        '10.96.0.10 169.254.20.10 10.0.0.1',
    ]);
  });

  it('cuts searches to 32 entries', () => {
    const extra = Array.from({ length: 40 }, (_, i) => `d${i}.example.com`);
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst', dnsConfig: { searches: extra } }, ctx);
    expect(out.searches).toHaveLength(32);
    expect(out.searches.at(-1)).toBe('d27.example.com');
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toMatch(/^Search Line limits were exceeded, .*the applied search line is: shop\.svc/);
  });

  it('drops entries over 253 characters, keeping the rest', () => {
    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.com`;
    expect(long.length).toBeGreaterThan(253);
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst', dnsConfig: { searches: [long, 'x.example.com'] } }, ctx);
    expect(out.searches.at(-1)).toBe('x.example.com');
    expect(out.searches).not.toContain(long);
    expect(out.warnings).toHaveLength(1);
  });

  it('cuts the search line to 2048 characters from the end', () => {
    const extra = Array.from({ length: 25 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(88)}.example.com`);
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst', dnsConfig: { searches: extra } }, ctx);
    expect(out.searches.join(' ').length).toBeLessThanOrEqual(2048);
    expect(out.searches.length).toBe(4 + 19);
    expect(out.warnings).toHaveLength(1);
  });

  it('a search line of exactly 2048 characters is kept whole', () => {
    let length = 'shop.svc.cluster.local svc.cluster.local cluster.local ec2.internal'.length;
    const extra: string[] = [];
    while (length < 2048) {
      const size = Math.min(240, 2048 - length - 1);
      extra.push(`${String(extra.length).padEnd(size - 4, 'y')}.com`);
      length += size + 1;
    }
    const out = renderResolvConf({ dnsPolicy: 'ClusterFirst', dnsConfig: { searches: extra } }, ctx);
    expect(out.searches.join(' ').length).toBe(2048);
    expect(out.warnings).toEqual([]);
  });
});

describe('text form', () => {
  const domain = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z]{2,10}){0,3}$/);
  const option = fc.oneof(
    fc.constantFrom('rotate', 'edns0', 'single-request-reopen').map((name) => ({ name })),
    fc.record({
      name: fc.constantFrom('ndots', 'timeout', 'attempts'),
      value: fc.integer({ min: 0, max: 15 }).map(String),
    }),
  );

  it('parseResolvConf reads back what formatResolvConf writes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(domain, { maxLength: 8 }),
        fc.uniqueArray(option, { selector: (o) => o.name, maxLength: 5 }),
        (nameservers, searches, options) => {
          const conf = { nameservers, searches, options };
          expect(parseResolvConf(formatResolvConf(conf))).toEqual(conf);
        },
      ),
    );
  });

  it('parseResolvConf: last search line wins, options accumulate with later values winning, comments ignored', () => {
    const text = [
      '# generated',
      'search a.example b.example',
      'nameserver 10.0.0.1',
      'options ndots:2 rotate',
      'search c.example',
      '; comment',
      'nameserver 10.0.0.2',
      'options ndots:3',
    ].join('\n');
    expect(parseResolvConf(text)).toEqual({
      nameservers: ['10.0.0.1', '10.0.0.2'],
      searches: ['c.example'],
      options: [{ name: 'rotate' }, { name: 'ndots', value: '3' }],
    });
  });
});
