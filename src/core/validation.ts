/**
 * The apiserver's validation of a pod's DNS fields, as in validatePodDNSConfig / validateDNSPolicy
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go), plus musl's
 * resolv.conf line limit. The engine checks its own output against this before it returns a patch.
 */
import { isIP } from 'node:net';
import type { PodDns } from './types.ts';

export const MAX_NAMESERVERS = 3;
export const MAX_SEARCHES = 32;
/** Searches joined with single spaces. */
export const MAX_SEARCH_CHARS = 2048;
/** musl ignores a resolv.conf line of 255 bytes or more (src/network/resolvconf.c reads into a 256-byte buffer). */
export const MUSL_MAX_LINE = 254;

const DNS_POLICIES = new Set(['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']);
/** RFC 1123 label, as IsDNS1123Label in k8s.io/apimachinery/pkg/util/validation (also a namespace name). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 subdomain, as IsDNS1123Subdomain in k8s.io/apimachinery/pkg/util/validation. */
export function isDnsSubdomain(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  return value.split('.').every(isDnsLabel);
}

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

export function searchLineLength(searches: readonly string[]): number {
  return Buffer.byteLength(`search ${searches.join(' ')}`);
}

/** Returns the apiserver's complaints about these DNS fields; empty when the pod would be admitted. */
export function validatePodDns(dns: PodDns): string[] {
  const errors: string[] = [];
  if (!DNS_POLICIES.has(dns.dnsPolicy)) errors.push(`spec.dnsPolicy: unsupported value "${dns.dnsPolicy}"`);
  const cfg = dns.dnsConfig;
  if (dns.dnsPolicy === 'None' && (cfg?.nameservers?.length ?? 0) === 0) {
    errors.push('spec.dnsConfig.nameservers: must provide at least one DNS nameserver when dnsPolicy is None');
  }
  if (!cfg) return errors;
  const nameservers = cfg.nameservers ?? [];
  if (nameservers.length > MAX_NAMESERVERS)
    errors.push(`spec.dnsConfig.nameservers: must not have more than ${MAX_NAMESERVERS}`);
  for (const ns of nameservers)
    if (isIP(ns) === 0) errors.push(`spec.dnsConfig.nameservers: "${ns}" must be a valid IP address`);
  const searches = cfg.searches ?? [];
  if (searches.length > MAX_SEARCHES) errors.push(`spec.dnsConfig.searches: must not have more than ${MAX_SEARCHES}`);
  if (searches.join(' ').length > MAX_SEARCH_CHARS)
    errors.push(`spec.dnsConfig.searches: must not exceed ${MAX_SEARCH_CHARS} characters`);
  for (const s of searches) {
    // A trailing dot is allowed (kubernetes/kubernetes#83046).
    if (!isDnsSubdomain(s.endsWith('.') ? s.slice(0, -1) : s))
      errors.push(`spec.dnsConfig.searches: "${s}" is not a DNS subdomain`);
  }
  for (const o of cfg.options ?? []) if (!o.name) errors.push('spec.dnsConfig.options: name is required');
  return errors;
}
