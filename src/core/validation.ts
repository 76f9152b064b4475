/**
 * The apiserver's validation of a pod's DNS fields, as in validatePodDNSConfig / validateDNSPolicy
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go), its limit on the
 * annotations' total size, and musl's resolv.conf line limit. The engine checks the pod it receives against the
 * limits (`invalidPodProblem`) and its own output against the rules (`validatePodDns`) before it returns a patch.
 */
import { describeValue } from './annotations.ts';
import { parseIp } from './ip.ts';
import type { PodDns, PodView } from './types.ts';

export const MAX_NAMESERVERS = 3;
export const MAX_SEARCHES = 32;
/** Searches joined with single spaces. */
export const MAX_SEARCH_CHARS = 2048;
/** DNS1123SubdomainMaxLength: the apiserver rejects longer search entries (a trailing dot aside), kubelet drops them. */
export const MAX_SEARCH_ENTRY_CHARS = 253;
/**
 * The sum of len(key) + len(value) (bytes) over metadata.annotations (k8s.io/apimachinery ValidateAnnotationsSize,
 * TotalAnnotationSizeLimitB). What we add counts.
 */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
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

/**
 * The annotations' size as the apiserver counts it: UTF-8 bytes of every key and value. Stops counting once past
 * `stopAbove` (the answer is then some number above it): a pod with 300k annotations is known to be too big after
 * the first 256 KiB.
 */
export function annotationsBytes(annotations: Record<string, string>, stopAbove = Number.POSITIVE_INFINITY): number {
  let total = 0;
  for (const key in annotations) {
    if (!Object.hasOwn(annotations, key)) continue;
    total += Buffer.byteLength(key) + Buffer.byteLength(annotations[key]!);
    if (total > stopAbove) return total;
  }
  return total;
}

/**
 * The first apiserver limit the pod as received already breaks, or undefined. Mutating admission runs before
 * validation, so such pods reach the webhook (`kubectl create --dry-run=server` sends any shape for free); they are
 * left alone rather than "repaired" into DNS their author did not write. Cheap by construction: each count is checked
 * before its entries are read, and every loop stops at the first problem, so the cost is bounded by the limits
 * themselves — except the options and annotations, which have no count limit and are read once.
 */
export function invalidPodProblem(pod: PodView): string | undefined {
  const cfg = pod.dnsConfig;
  const nameservers = cfg?.nameservers ?? [];
  if (nameservers.length > MAX_NAMESERVERS) {
    return `spec.dnsConfig.nameservers: ${nameservers.length} entries, the apiserver allows ${MAX_NAMESERVERS}`;
  }
  for (const ns of nameservers) {
    if (parseIp(ns) === undefined) return `spec.dnsConfig.nameservers: ${describeValue(ns)} is not an IP address`;
  }
  const searches = cfg?.searches ?? [];
  if (searches.length > MAX_SEARCHES) {
    return `spec.dnsConfig.searches: ${searches.length} entries, the apiserver allows ${MAX_SEARCHES}`;
  }
  let chars = Math.max(searches.length - 1, 0);
  for (const s of searches) {
    const name = s.endsWith('.') ? s.slice(0, -1) : s;
    if (name.length > MAX_SEARCH_ENTRY_CHARS) {
      return `spec.dnsConfig.searches: ${describeValue(s)} is longer than ${MAX_SEARCH_ENTRY_CHARS} characters`;
    }
    chars += s.length;
  }
  if (chars > MAX_SEARCH_CHARS) {
    return `spec.dnsConfig.searches: ${chars} characters, the apiserver allows ${MAX_SEARCH_CHARS}`;
  }
  for (const o of cfg?.options ?? []) if (o.name === '') return 'spec.dnsConfig.options: an option has no name';
  const bytes = annotationsBytes(pod.annotations, MAX_ANNOTATIONS_BYTES);
  if (bytes > MAX_ANNOTATIONS_BYTES) {
    return `metadata.annotations: more than ${MAX_ANNOTATIONS_BYTES} bytes, the apiserver allows ${MAX_ANNOTATIONS_BYTES}`;
  }
  return undefined;
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
  // The apiserver's parser (netutils.ParseIPSloppy), not node:net isIP, which accepts zones such as fe80::1%eth0.
  for (const ns of nameservers)
    if (parseIp(ns) === undefined) errors.push(`spec.dnsConfig.nameservers: "${ns}" must be a valid IP address`);
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
