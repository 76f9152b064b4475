/**
 * The author's DNS at the edges (ADR 2): the node-local rewrite keeps every search domain and nameserver kubelet would
 * have kept for the pod, the cluster's own search domains, and the kube-dns fallback the policy asks for; when the
 * `None` form cannot, the pod keeps its dnsPolicy and gets the options only, with a reason and a warning.
 */
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/types.ts';
import { validatePodDns } from '../../src/core/validation.ts';
import { configFrom, namespace, pod, run } from '../support/engine.ts';

const base = { clusterDNS: '10.96.0.10', nodeLocalDNS: '169.254.20.10' };
const config = configFrom(base);
const shop = namespace('shop', 'default');
const CLUSTER = ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];

function tuned(d: Decision) {
  if (d.action === 'skip') throw new Error(`expected a change, got skip: ${d.message}`);
  return d;
}

describe('searches', () => {
  it('a pod with 32 searches of its own keeps the 29 kubelet would keep (not 12), with one warning', () => {
    const own = Array.from({ length: 32 }, (_, i) => `team${i}.corp.example.com`);
    const d = tuned(run(config, pod({ dnsConfig: { searches: own } }), shop));
    expect(d.after.dnsPolicy).toBe('None');
    expect(d.after.dnsConfig?.searches).toEqual([...CLUSTER, ...own.slice(0, 29)]);
    expect(d.warnings).toContain(
      "dns-tuner: dropped 3 search domains past kubelet's limits, as kubelet would: team29.corp.example.com team30.corp.exampl…",
    );
    expect(validatePodDns(d.after)).toEqual([]);
  });

  it('a long cluster domain keeps svc.<domain> and <domain> (no musl trimming of what kubelet keeps)', () => {
    const domain = `${'k'.repeat(60)}.${'l'.repeat(60)}.${'m'.repeat(60)}.example`;
    const cfg = configFrom({ ...base, clusterDomain: domain, hostSearchDomains: ['ec2.internal'] });
    const d = tuned(run(cfg, pod({ dnsConfig: { searches: ['corp.example'] } }), shop));
    expect(d.after.dnsConfig?.searches).toEqual([
      `shop.svc.${domain}`,
      `svc.${domain}`,
      domain,
      'ec2.internal',
      'corp.example',
    ]);
  });

  it('drops what kubelet drops: a cluster search over 253 characters, the node search trailing dot', () => {
    const domain = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(55)}`; // 238
    const cfg = configFrom({ ...base, clusterDomain: domain, hostSearchDomains: ['corp.example.'] });
    const ns = namespace(`n${'s'.repeat(20)}`, 'default');
    const d = tuned(run(cfg, pod(), ns));
    // `<ns>.svc.<domain>` is 264 characters: kubelet drops it for a ClusterFirst pod too.
    expect(d.after.dnsConfig?.searches).toEqual([`svc.${domain}`, domain, 'corp.example']);
    expect(validatePodDns(d.after)).toEqual([]);
  });
});

describe('nameservers and the path to cluster DNS', () => {
  it('one nameserver of the author fits beside node-local and the fallback', () => {
    const d = tuned(run(config, pod({ dnsConfig: { nameservers: ['1.1.1.1'] } }), shop));
    expect(d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10', '1.1.1.1']);
  });

  it('two of the author: options only, ClusterFirst kept (kubelet gives [kube-dns, theirs])', () => {
    const raw = pod({ dnsConfig: { nameservers: ['1.1.1.1', '8.8.8.8'], searches: ['corp.example'] } });
    const d = tuned(run(config, raw, shop));
    expect(d.after.dnsPolicy).toBe('ClusterFirst');
    expect(d.after.dnsConfig).toMatchObject({ nameservers: ['1.1.1.1', '8.8.8.8'], searches: ['corp.example'] });
    expect(d.after.dnsConfig?.options?.map((o) => o.name)).toEqual([
      'ndots',
      'single-request-reopen',
      'timeout',
      'attempts',
    ]);
    expect(d.nodeLocalDeclined).toEqual({
      reason: 'nameservers-full',
      message: 'nameservers 1.1.1.1, 8.8.8.8 leave no room for node-local and the kube-dns fallback (3 at most)',
    });
    // ndots:5 is written only under None (kubelet's default stays otherwise): a policy without ndots adds none here.
    const noNdots = configFrom({ ...base, policies: { default: { nodeLocal: true, options: ['timeout:1'] } } });
    expect(tuned(run(noNdots, raw, shop)).after.dnsConfig?.options).toEqual([{ name: 'timeout', value: '1' }]);
  });

  it('an author entry equal to kube-dns shares its slot', () => {
    const d = tuned(run(config, pod({ dnsConfig: { nameservers: ['10.96.0.10', '1.1.1.1'] } }), shop));
    expect(d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10', '1.1.1.1']);
  });

  it('without the fallback, two of the author fit; a third, which kubelet drops too, goes with a warning', () => {
    const cfg = configFrom({ ...base, policies: { default: { nodeLocal: true, fallback: false } } });
    const d = tuned(run(cfg, pod({ dnsConfig: { nameservers: ['1.1.1.1', '8.8.8.8', '9.9.9.9'] } }), shop));
    expect(d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '1.1.1.1', '8.8.8.8']);
    expect(d.warnings).toContain(
      'dns-tuner: dropped nameserver 9.9.9.9: kubelet keeps 3, as it would without dns-tuner',
    );
  });

  it('without the fallback, an author kube-dns entry is still theirs', () => {
    const cfg = configFrom({ ...base, policies: { default: { nodeLocal: true, fallback: false } } });
    const d = tuned(run(cfg, pod({ dnsConfig: { nameservers: ['10.96.0.10'] } }), shop));
    expect(d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
  });

  it('node-local asked by an annotation with the fallback wanted and no clusterDNS: options only', () => {
    const cfg = configFrom({
      nodeLocalDNS: '169.254.20.10',
      policies: { default: { nodeLocal: false, fallback: true } },
    });
    const d = tuned(run(cfg, pod({}, { annotations: { 'dns-tuner.io/node-local': 'true' } }), shop));
    expect(d.after.dnsPolicy).toBe('ClusterFirst');
    expect(d.nodeLocalDeclined?.reason).toBe('no-cluster-dns');
    expect(d.warnings).toContain(
      'dns-tuner: options only: no clusterDNS configured or discovered for the kube-dns fallback',
    );
  });
});
