/**
 * IP and CIDR parsing with the apiserver's semantics (k8s.io/utils ParseIPSloppy / ParseCIDRSloppy, a fork of Go
 * 1.16's net package). The tables were checked against that fork compiled with Go; fixtures/ip-go-golden.json holds
 * the fork's own answers for sampled inputs, so the port is compared with the real thing on every run.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIp,
  hostCidr,
  type IpAddress,
  ipEquals,
  isIpv4,
  parseCidr,
  parseIp,
} from '../../src/core/ip.ts';

function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`test input ${JSON.stringify(text)} does not parse`);
  return parsed;
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`test input ${JSON.stringify(text)} does not parse`);
  return parsed;
}

describe('parseIp: what ParseIPSloppy accepts, printed as Go prints it', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    // Leading zeros are decimal, not octal (the reason for the fork: https://issue.k8s.io/100895).
    ['001.002.003.004', '1.2.3.4'],
    ['010.0.0.1', '10.0.0.1'],
    ['0000000000001.1.1.1', '1.1.1.1'],
    ['1.2.3.04', '1.2.3.4'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['::ffff:001.002.003.004', '1.2.3.4'],
  ])('IPv4 %j is %s', (input, printed) => {
    const parsed = ip(input);
    expect(formatIp(parsed)).toBe(printed);
    expect(isIpv4(parsed)).toBe(true);
  });

  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8::68', '2001:db8::68'],
    ['2001:DB8::68', '2001:db8::68'],
    ['2001:0db8:0000:0000:0000:0000:0000:0068', '2001:db8::68'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    // The fork reads a group with any number of leading zeros.
    ['00000000001::', '1::'],
    ['0ffff::', 'ffff::'],
    ['fe80::1', 'fe80::1'],
    ['fd00::10', 'fd00::10'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    // "::" never stands for a single zero group when printed (RFC 5952 4.2.2).
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
  ])('IPv6 %j is %s', (input, printed) => {
    const parsed = ip(input);
    expect(formatIp(parsed)).toBe(printed);
    expect(isIpv4(parsed)).toBe(false);
  });

  it.each([
    ['', 'empty'],
    ['1.2.3', 'three octets'],
    ['1.2.3.4.5', 'five octets'],
    ['256.1.1.1', 'an octet above 255'],
    ['1.2.3.-4', 'a sign'],
    ['1..2.3', 'an empty octet'],
    ['.1.2.3.4', 'a leading dot'],
    ['1.2.3.4.', 'a trailing dot'],
    ['0x1.2.3.4', 'hexadecimal IPv4'],
    ['1.2.3.4 ', 'trailing whitespace'],
    [' 1.2.3.4', 'leading whitespace'],
    ['1.2.3.4\n', 'a newline'],
    ['1.2.3.4:53', 'a port'],
    ['fe80::1%eth0', 'a zone'],
    ['fe80::1%', 'an empty zone'],
    ['fe80::1%25eth0', 'a URL-escaped zone'],
    ['[::1]', 'brackets'],
    ['[::1]:53', 'brackets and a port'],
    ['1.2.3.4/32', 'a prefix length'],
    ['::1/128', 'an IPv6 prefix length'],
    [':', 'a lone colon'],
    [':::', 'three colons'],
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['1:2:3:4:5:6:7:8::', 'an ellipsis standing for nothing'],
    ['1::2::3', 'two ellipses'],
    ['1:::2', 'three colons inside'],
    ['10000::', 'a group above ffff'],
    ['::ffff:256.1.1.1', 'a bad embedded IPv4'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'an embedded IPv4 past the end'],
    ['1:2:3:4:5:1.2.3.4', 'an embedded IPv4 too early'],
    ['::1.2.3.4:5', 'a group after the embedded IPv4'],
    ['localhost', 'a name'],
    ['١.٢.٣.٤', 'non-ASCII digits'],
  ])('refuses %j (%s)', (input) => {
    expect(parseIp(input)).toBeUndefined();
  });
});

describe('parseCidr: what ParseCIDRSloppy accepts, printed as Go prints the network', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['169.254.20.10/32', '169.254.20.10/32'],
    ['010.000.000.000/008', '10.0.0.0/8'],
    ['10.0.0.0/08', '10.0.0.0/8'],
    ['::/0', '::/0'],
    ['fd00::/8', 'fd00::/8'],
    ['fd00::10/128', 'fd00::10/128'],
    ['2001:db8::1/32', '2001:db8::/32'],
    ['::1/0128', '::1/128'],
    // A v4-mapped network of /96 or longer is an IPv4 network to Go; a shorter one is masked into plain IPv6.
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::ffff:10.1.2.3/120', '10.1.2.0/24'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:10.0.0.1/64', '::/64'],
    ['::ffff:0:0/95', '::fffe:0:0/95'],
  ])('%j is %s', (input, printed) => {
    expect(formatCidr(cidr(input))).toBe(printed);
  });

  it.each([
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0',
    '/8',
    '10.0.0.0/-1',
    '10.0.0.0/+8',
    '10.0.0.0/8 ',
    '10.0.0.0 /8',
    '10.0.0.0/8/8',
    'fe80::1%eth0/64',
    '[::1]/128',
    '1.2.3.4/32/',
    '',
  ])('refuses %j', (input) => {
    expect(parseCidr(input)).toBeUndefined();
  });
});

describe('cidrContains: Go IPNet.Contains', () => {
  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '::ffff:10.0.0.1', true],
    ['::ffff:10.0.0.0/104', '10.0.0.1', true],
    ['0.0.0.0/0', '169.254.20.10', true],
    ['::ffff:0:0/96', '169.254.20.10', true],
    ['169.254.0.0/16', '169.254.20.10', true],
    ['169.254.20.10/32', '169.254.20.10', true],
    ['169.254.20.10/32', '169.254.20.11', false],
    // An IPv6 network never contains an IPv4 address, not even ::/0, and the reverse.
    ['::/0', '10.0.0.1', false],
    ['::/0', '::ffff:10.0.0.1', false],
    ['::/0', 'fd00::10', true],
    ['0.0.0.0/0', 'fd00::10', false],
    ['::/96', '::a00:1', true],
    ['::/96', '10.0.0.1', false],
    ['fe80::/10', 'fe80::1', true],
    ['fe80::/10', 'febf::1', true],
    ['fe80::/10', 'fec0::1', false],
    ['::ffff:10.0.0.1/64', '::1', true],
    ['::ffff:10.0.0.1/64', '10.0.0.1', false],
  ])('%s contains %s: %s', (network, address, expected) => {
    expect(cidrContains(cidr(network), ip(address))).toBe(expected);
  });

  it('hostCidr is the /32 or /128 of exactly one address', () => {
    expect(hostCidr(ip('169.254.20.10'))).toBe('169.254.20.10/32');
    expect(hostCidr(ip('::ffff:169.254.20.10'))).toBe('169.254.20.10/32');
    expect(hostCidr(ip('FD00:0::10'))).toBe('fd00::10/128');
  });
});

describe('the fork compiled with Go agrees on sampled inputs (fixtures/ip-go-golden.json)', () => {
  const golden = JSON.parse(readFileSync(new URL('./fixtures/ip-go-golden.json', import.meta.url), 'utf8')) as {
    ip: [string, string | null, boolean?][];
    cidr: [string, string | null][];
    contains: [string, string, boolean][];
  };

  it('has accepted and refused inputs of every kind', () => {
    const accepted = golden.ip.filter(([, printed]) => printed !== null);
    expect(accepted.length).toBeGreaterThan(50);
    expect(golden.ip.length - accepted.length).toBeGreaterThan(50);
    expect(golden.cidr.filter(([, printed]) => printed !== null).length).toBeGreaterThan(30);
    expect(golden.contains.filter(([, , inside]) => inside).length).toBeGreaterThan(50);
    expect(golden.contains.filter(([, , inside]) => !inside).length).toBeGreaterThan(50);
  });

  it('parseIp', () => {
    for (const [input, printed, v4] of golden.ip) {
      const parsed = parseIp(input);
      const ours = parsed ? [formatIp(parsed), isIpv4(parsed)] : null;
      expect(ours, JSON.stringify(input)).toEqual(printed === null ? null : [printed, v4]);
    }
  });

  it('parseCidr', () => {
    for (const [input, printed] of golden.cidr) {
      const parsed = parseCidr(input);
      expect(parsed ? formatCidr(parsed) : null, JSON.stringify(input)).toBe(printed);
    }
  });

  it('cidrContains', () => {
    for (const [network, address, inside] of golden.contains) {
      expect(cidrContains(cidr(network), ip(address)), `${network} ∋ ${address}`).toBe(inside);
    }
  });
});

const anyAddress = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes): IpAddress => ({ bytes }));
const anyIpv4 = fc.ipV4().map(ip);
const textualIp = fc.oneof(fc.ipV4(), fc.ipV6());

describe('properties', () => {
  it('format then parse gives the same address, and the printed form is a fixed point', () => {
    fc.assert(
      fc.property(fc.oneof(anyAddress, anyIpv4), (address) => {
        const printed = formatIp(address);
        const again = ip(printed);
        expect(ipEquals(again, address)).toBe(true);
        expect(formatIp(again)).toBe(printed);
      }),
    );
  });

  it('every textual IPv4 and IPv6 form parses, and IPv4 reads the same with leading zeros or v4-mapped', () => {
    fc.assert(
      fc.property(textualIp, (text) => {
        expect(parseIp(text)).toBeDefined();
      }),
    );
    fc.assert(
      fc.property(fc.ipV4(), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }), (text, pads) => {
        const padded = text
          .split('.')
          .map((octet, i) => '0'.repeat(pads[i]!) + octet)
          .join('.');
        expect(ipEquals(ip(padded), ip(text))).toBe(true);
        expect(ipEquals(ip(`::ffff:${padded}`), ip(text))).toBe(true);
        expect(formatIp(ip(padded))).toBe(text);
      }),
    );
  });

  it('every zone, bracket, port and whitespace form is refused', () => {
    const zone = fc.string({ minLength: 0, maxLength: 8 });
    const port = fc.integer({ min: 0, max: 65535 });
    fc.assert(
      fc.property(textualIp, zone, port, fc.constantFrom(' ', '\t', '\n'), (text, z, p, space) => {
        expect(parseIp(`${text}%${z}`)).toBeUndefined();
        expect(parseIp(`[${text}]`)).toBeUndefined();
        expect(parseIp(`[${text}]:${p}`)).toBeUndefined();
        expect(parseIp(`${space}${text}`)).toBeUndefined();
        expect(parseIp(`${text}${space}`)).toBeUndefined();
        expect(parseCidr(`${text}%${z}/${p % 33}`)).toBeUndefined();
      }),
    );
    // host:port is an IPv4 form only: "1::2:53" is itself a valid IPv6 address.
    fc.assert(
      fc.property(fc.ipV4(), port, (text, p) => {
        expect(parseIp(`${text}:${p}`)).toBeUndefined();
      }),
    );
  });

  it('a network contains its own address, an address that differs only past the prefix, and no other', () => {
    const family = fc.oneof(
      fc.record({ address: anyIpv4, bits: fc.integer({ min: 0, max: 32 }) }),
      fc.record({
        address: anyAddress.filter((a) => !isIpv4(a)),
        bits: fc.integer({ min: 0, max: 128 }),
      }),
    );
    fc.assert(
      fc.property(family, fc.nat(), ({ address, bits }, flipSeed) => {
        const v4 = isIpv4(address);
        const width = v4 ? 32 : 128;
        const network = cidr(`${formatIp(address)}/${bits}`);
        expect(network.prefixLength).toBe(bits);
        expect(cidrContains(network, address)).toBe(true);
        // Flip one bit of the family's own bits: inside the prefix it leaves the network, past it it stays.
        const bit = flipSeed % width;
        const flipped = Uint8Array.from(address.bytes);
        const at = (v4 ? 96 : 0) + bit;
        flipped[at >> 3]! ^= 0x80 >> (at & 7);
        const other = { bytes: flipped };
        // Flipping inside ::ffff of a v6 network can make it v4-mapped: then it is another family, also outside.
        expect(cidrContains(network, other)).toBe(bit >= bits && isIpv4(other) === v4);
      }),
    );
  });

  it('an IPv4 network never contains an IPv6 address, nor an IPv6 network an IPv4 one', () => {
    fc.assert(
      fc.property(anyIpv4, anyAddress, fc.integer({ min: 0, max: 32 }), (v4, v6, bits) => {
        fc.pre(!isIpv4(v6));
        expect(cidrContains(cidr(`${formatIp(v4)}/${bits}`), v6)).toBe(false);
        expect(cidrContains(cidr(`${formatIp(v6)}/${bits}`), v4)).toBe(false);
      }),
    );
  });
});
