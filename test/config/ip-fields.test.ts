/**
 * One IP check everywhere an address reaches a pod (issue 9, item 5): the config's clusterDNS/nodeLocalDNS, the
 * result validator and the invalid-pod check all use the apiserver's parser (src/core/ip.ts: Go ParseIP with
 * leading-zero tolerance; no zones, brackets or ports). Node's isIP accepts `fe80::1%eth0`; the apiserver refuses it.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.ts';
import { notANameserver, parseIp } from '../../src/core/ip.ts';
import { invalidPodProblem, validatePodDns } from '../../src/core/validation.ts';
import { configFrom, namespace, pod, run } from '../support/engine.ts';

/** Forms the apiserver accepts, with the form the config writes into pods. */
const ACCEPTED: Array<[string, string]> = [
  ['169.254.20.10', '169.254.20.10'],
  ['10.96.0.10', '10.96.0.10'],
  ['010.096.000.010', '10.96.0.10'],
  ['::ffff:10.96.0.10', '10.96.0.10'],
  ['fd00::a', 'fd00::a'],
  ['FD00:0:0:0:0:0:0:A', 'fd00::a'],
  ['fe80::1', 'fe80::1'],
  ['2001:DB8::53', '2001:db8::53'],
];

/** Forms it refuses, several of which node:net isIP accepts. */
const REFUSED = [
  'fe80::1%eth0',
  'fe80::1%1',
  '::1%lo',
  '[::1]',
  '[fd00::a]:53',
  '10.96.0.10:53',
  '10.96.0.10/32',
  ' 10.96.0.10',
  '10.96.0.10 ',
  '10.96.0',
  '10.96.0.256',
  '1.2.3.4.5',
  'kube-dns.kube-system.svc',
  '',
  '::ffff:1.2.3',
  '1::2::3',
];

const configAccepts = (value: string) => parseConfig({ nodeLocalDNS: value, clusterDNS: value }).ok;
const validatorAccepts = (value: string) =>
  validatePodDns({ dnsPolicy: 'None', dnsConfig: { nameservers: [value] } }).length === 0;
const podAccepted = (value: string) =>
  invalidPodProblem({ annotations: {}, labels: {}, hostNetwork: false, dnsConfig: { nameservers: [value] } }) ===
  undefined;

describe('IP addresses: the config, the result validator and the invalid-pod check agree with the apiserver', () => {
  it.each(ACCEPTED)('%j is accepted everywhere, and written as %j', (value, written) => {
    expect(configAccepts(value)).toBe(true);
    expect(validatorAccepts(value)).toBe(true);
    expect(podAccepted(value)).toBe(true);
    const parsed = parseConfig({ nodeLocalDNS: value, clusterDNS: value });
    expect(parsed.ok && [parsed.config.nodeLocalDNS, parsed.config.clusterDNS]).toEqual([written, written]);
  });

  it.each(REFUSED)('%j is refused everywhere', (value) => {
    expect(configAccepts(value)).toBe(false);
    expect(validatorAccepts(value)).toBe(false);
    expect(podAccepted(value)).toBe(false);
  });

  it('the config error names the field and the value', () => {
    const parsed = parseConfig({ nodeLocalDNS: 'fe80::1%eth0' });
    expect(parsed.ok || parsed.error).toBe(
      'nodeLocalDNS: nodeLocalDNS: "fe80::1%eth0" is not an IP address (no zone, brackets or port)',
    );
  });

  it('the config refuses addresses no pod can reach a DNS server at; the apiserver (and so the pod) accepts them', () => {
    for (const [value, why] of [
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['127.0.0.53', "the pod's own loopback"],
      ['::1', "the pod's own loopback"],
      ['224.0.0.1', 'multicast'],
      ['ff02::fb', 'multicast'],
      ['255.255.255.255', 'broadcast'],
    ] as const) {
      const parsed = parseConfig({ nodeLocalDNS: value });
      expect(parsed.ok || parsed.error, value).toBe(
        `nodeLocalDNS: nodeLocalDNS: "${value}" cannot be a pod's nameserver (${why})`,
      );
      expect(validatorAccepts(value), value).toBe(true);
    }
    expect(configAccepts('169.254.20.10')).toBe(true);
  });

  it('any IPv4 or IPv6 address is accepted everywhere (the config: if a pod can reach it); spoiled forms nowhere', () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6());
    const spoiled = fc.oneof(
      fc.tuple(fc.ipV6(), fc.stringMatching(/^[a-z0-9]{1,8}$/)).map(([a, zone]) => `${a}%${zone}`),
      fc.ipV6().map((a) => `[${a}]`),
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([a, port]) => `${a}:${port}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([a, port]) => `[${a}]:${port}`),
      fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`),
    );
    fc.assert(
      fc.property(address, (value) => {
        const reachable = notANameserver(parseIp(value)!) === undefined;
        expect([configAccepts(value), validatorAccepts(value), podAccepted(value)]).toEqual([reachable, true, true]);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(spoiled, (value) => {
        expect([configAccepts(value), validatorAccepts(value), podAccepted(value)]).toEqual([false, false, false]);
      }),
      { numRuns: 300 },
    );
  });

  it('a pod whose own nameserver has a zone is left alone (invalid-pod), never carried into a None rewrite', () => {
    const cfg = configFrom({ clusterDNS: '10.96.0.10', nodeLocalDNS: '169.254.20.10' });
    const d = run(cfg, pod({ dnsConfig: { nameservers: ['fe80::1%eth0'] } }), namespace('shop', 'default'));
    expect(d).toMatchObject({ action: 'skip', reason: 'invalid-pod' });
  });

  it('a config written with leading zeros points pods at the address, not at what inet_aton reads as octal', () => {
    const cfg = configFrom({ clusterDNS: '010.096.000.010', nodeLocalDNS: '169.254.020.010' });
    const d = run(cfg, pod(), namespace('shop', 'default'));
    expect(d.action !== 'skip' && d.after.dnsConfig?.nameservers).toEqual(['169.254.20.10', '10.96.0.10']);
  });
});
