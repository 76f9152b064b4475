/**
 * IP addresses and CIDRs exactly as the apiserver reads them.
 *
 * The apiserver validates nameservers, Service IPs and NetworkPolicy `ipBlock`s with `netutils.ParseIPSloppy` /
 * `ParseCIDRSloppy` from k8s.io/utils, which are a fork of Go 1.16's `net.ParseIP` / `net.ParseCIDR`: Go 1.17 began
 * refusing leading zeros in IPv4 octets, and Kubernetes kept accepting them for objects already stored
 * (https://issue.k8s.io/100895,
 * https://github.com/kubernetes/utils/blob/master/internal/third_party/forked/golang/net/ip.go).
 * This file ports that parser step for step. Node's `net.isIP` is not a substitute: it accepts zones
 * (`fe80::1%eth0`), which the apiserver refuses, and refuses leading zeros, which the apiserver accepts.
 *
 * Like Go's `net.IP`, an address is kept in its 16-byte form, an IPv4 address as the IPv4-mapped IPv6 address
 * `::ffff:a.b.c.d`: in Go an IPv4 address and its v4-mapped form are the same address.
 */

/** An address in Go's 16-byte `net.IP` form. Build it with `parseIp`. */
export interface IpAddress {
  readonly bytes: Uint8Array;
}

/** A network as Go's `net.IPNet` after `ParseCIDR`: the address is already masked. */
export interface Cidr {
  readonly network: IpAddress;
  /** The prefix length in the family's own bits: at most 32 for an IPv4 network, 128 for IPv6. */
  readonly prefixLength: number;
}

const IPV6_LEN = 16;
const IPV4_LEN = 4;
/** Go's parsers give up on numbers this large (src/net/parse.go, `big`). */
const BIG = 0xffffff;
const V4_IN_V6_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Go's `dtoi`: decimal digits at the start of `s` (leading zeros allowed), the count consumed, success. */
function dtoi(s: string, from: number): { n: number; end: number; ok: boolean } {
  let n = 0;
  let i = from;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
    if (n >= BIG) return { n: BIG, end: i, ok: false };
  }
  return { n, end: i, ok: i > from };
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Go's `xtoi`: hexadecimal digits at the start of `s` (any number of leading zeros), the end, success. */
function xtoi(s: string, from: number): { n: number; end: number; ok: boolean } {
  let n = 0;
  let i = from;
  for (; i < s.length; i++) {
    const d = hexDigit(s.charCodeAt(i));
    if (d < 0) break;
    n = n * 16 + d;
    if (n >= BIG) return { n: 0, end: i, ok: false };
  }
  return { n, end: i, ok: i > from };
}

/** The fork's `parseIPv4` over `s[from..]`, which must be consumed entirely: four decimal octets. */
function parseIpv4(s: string, from: number): number[] | undefined {
  const octets: number[] = [];
  let at = from;
  for (let i = 0; i < IPV4_LEN; i++) {
    if (at === s.length) return undefined;
    if (i > 0) {
      if (s[at] !== '.') return undefined;
      at++;
    }
    const { n, end, ok } = dtoi(s, at);
    if (!ok || n > 0xff) return undefined;
    at = end;
    octets.push(n);
  }
  return at === s.length ? octets : undefined;
}

/** The fork's `parseIPv6` (no zone allowed), RFC 4291 text with an optional trailing dotted quad. */
function parseIpv6(s: string): Uint8Array | undefined {
  const ip = new Uint8Array(IPV6_LEN);
  let ellipsis = -1;
  let at = 0;
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0;
    at = 2;
    if (at === s.length) return ip;
  }
  let i = 0;
  while (i < IPV6_LEN) {
    const { n, end, ok } = xtoi(s, at);
    if (!ok || n > 0xffff) return undefined;
    if (end < s.length && s[end] === '.') {
      if (ellipsis < 0 && i !== IPV6_LEN - IPV4_LEN) return undefined;
      if (i + IPV4_LEN > IPV6_LEN) return undefined;
      const v4 = parseIpv4(s, at);
      if (!v4) return undefined;
      ip.set(v4, i);
      at = s.length;
      i += IPV4_LEN;
      break;
    }
    ip[i] = n >> 8;
    ip[i + 1] = n & 0xff;
    i += 2;
    at = end;
    if (at === s.length) break;
    if (s[at] !== ':' || at + 1 === s.length) return undefined;
    at++;
    if (s[at] === ':') {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      at++;
      if (at === s.length) break;
    }
  }
  if (at !== s.length) return undefined;
  if (i < IPV6_LEN) {
    if (ellipsis < 0) return undefined;
    const shift = IPV6_LEN - i;
    ip.copyWithin(ellipsis + shift, ellipsis, i);
    ip.fill(0, ellipsis, ellipsis + shift);
  } else if (ellipsis >= 0) {
    // The ellipsis must stand for at least one group of zeros.
    return undefined;
  }
  return ip;
}

function fromIpv4(octets: readonly number[]): IpAddress {
  return { bytes: Uint8Array.from([...V4_IN_V6_PREFIX, ...octets]) };
}

/**
 * `netutils.ParseIPSloppy`: an IPv4 dotted quad (leading zeros allowed, read as decimal) or an IPv6 address in any
 * RFC 4291 form; undefined for anything else, including zones, brackets, ports, whitespace and the empty string.
 */
export function parseIp(text: string): IpAddress | undefined {
  // Go dispatches on the first '.' or ':'.
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '.') {
      const octets = parseIpv4(text, 0);
      return octets ? fromIpv4(octets) : undefined;
    }
    if (text[i] === ':') {
      const bytes = parseIpv6(text);
      return bytes ? { bytes } : undefined;
    }
  }
  return undefined;
}

/** Go's `IP.To4() != nil`: an IPv4 address, written either way. */
export function isIpv4(ip: IpAddress): boolean {
  return V4_IN_V6_PREFIX.every((b, i) => ip.bytes[i] === b);
}

export function ipEquals(a: IpAddress, b: IpAddress): boolean {
  return a.bytes.every((byte, i) => byte === b.bytes[i]);
}

/** Go's `IP.String()`: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, longest run of zero groups as `::`). */
export function formatIp(ip: IpAddress): string {
  const b = ip.bytes;
  if (isIpv4(ip)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < IPV6_LEN; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let runStart = -1;
  let runLength = 0;
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    // The first longest run of at least two zero groups (RFC 5952 4.2.2, 4.2.3).
    if (j - i >= 2 && j - i > runLength) {
      runStart = i;
      runLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (runStart < 0) return hex(0, groups.length);
  return `${hex(0, runStart)}::${hex(runStart + runLength, groups.length)}`;
}

/** The mask of `bits` leading ones over 16 bytes, applied. */
function masked(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(IPV6_LEN);
  for (let i = 0; i < IPV6_LEN; i++) {
    const ones = Math.min(8, Math.max(0, bits - i * 8));
    out[i] = bytes[i]! & ((0xff00 >> ones) & 0xff);
  }
  return out;
}

/**
 * `netutils.ParseCIDRSloppy`: an address as `parseIp` reads it (but an IPv4 part must be a plain dotted quad, as in
 * Go), `/`, and a decimal prefix length (leading zeros allowed) no longer than the address family's bits.
 * The network is masked, as Go's `IPNet`; `::ffff:10.0.0.0/104` is the IPv4 network 10.0.0.0/8, as in Go.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const v4 = parseIpv4(address, 0);
  const bytes = v4 ? fromIpv4(v4).bytes : parseIpv6(address);
  const { n, end, ok } = dtoi(text, slash + 1);
  const familyBits = v4 ? 32 : 128;
  if (!bytes || !ok || end !== text.length || n > familyBits) return undefined;
  // Go masks in the parsed family's width: an IPv4 prefix covers the last 32 bits of the 16-byte form.
  const bits128 = v4 ? n + 96 : n;
  const network = { bytes: masked(bytes, bits128) };
  // A v4-mapped network (every IPv4 one, and an IPv6 one of /96 or longer over ::ffff:0:0) is an IPv4 network
  // to Go's IPNet, which compares it against the last 32 bits only (networkNumberAndMask in src/net/ip.go).
  return { network, prefixLength: isIpv4(network) ? bits128 - 96 : bits128 };
}

/** Go's `IPNet.String()`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.network)}/${cidr.prefixLength}`;
}

/**
 * Go's `IPNet.Contains`: an IPv4 network contains only IPv4 addresses (written either way), an IPv6 network only
 * IPv6 addresses that are not v4-mapped (`::/0` does not contain 10.0.0.1).
 */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  const v4 = isIpv4(cidr.network);
  if (v4 !== isIpv4(ip)) return false;
  const bits128 = v4 ? cidr.prefixLength + 96 : cidr.prefixLength;
  const candidate = masked(ip.bytes, bits128);
  return candidate.every((byte, i) => byte === cidr.network.bytes[i]);
}

/** The CIDR of exactly this address: `a.b.c.d/32` or `x::y/128`. */
export function hostCidr(ip: IpAddress): string {
  return `${formatIp(ip)}/${isIpv4(ip) ? 32 : 128}`;
}

/** Addresses a pod cannot reach a DNS server at: its own loopback, no address at all, a group, the whole link. */
const NOT_A_SERVER: ReadonlyArray<[string, string]> = [
  ['0.0.0.0/32', 'unspecified'],
  ['::/128', 'unspecified'],
  ['127.0.0.0/8', "the pod's own loopback"],
  ['::1/128', "the pod's own loopback"],
  ['224.0.0.0/4', 'multicast'],
  ['ff00::/8', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
];

/**
 * Why a nameserver at `ip` can never answer a pod (the apiserver accepts all of these), or undefined. A link-local
 * address such as NodeLocal DNSCache's 169.254.20.10 is fine: the node answers it on every pod's link.
 */
export function notANameserver(ip: IpAddress): string | undefined {
  for (const [cidr, why] of NOT_A_SERVER) if (cidrContains(parseCidr(cidr)!, ip)) return why;
  return undefined;
}
