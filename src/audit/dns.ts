/**
 * A pod's DNS fields as the audit compares and shows them. Two pods have the same DNS when kubelet and the resolvers
 * would treat them alike: the same dnsPolicy, the same nameservers and searches in the same order (order is what
 * the resolvers walk), and the same options by name, where the last value of a name wins as kubelet's
 * `mergeDNSOptions` and glibc's `res_init` take it (order between different options does not matter).
 */
import { type ResolvConfContext, renderResolvConf } from '../core/resolv-conf.ts';
import { formatOption } from '../core/resolver-options.ts';
import type { PodDns, PodView } from '../core/types.ts';

/** The DNS fields of a pod, for the report: spec-level lists, and the ndots its resolver ends up with. */
export interface DnsView {
  dnsPolicy: string;
  /** `spec.dnsConfig.nameservers` (kubelet adds the cluster DNS IP in front of them unless dnsPolicy is None). */
  nameservers: string[];
  searches: string[];
  /** `spec.dnsConfig.options`, as `name` or `name:value`, in the pod's order. */
  options: string[];
  /**
   * The ndots in the resolv.conf kubelet writes: kubelet's 5 under ClusterFirst unless the pod sets one, the
   * resolvers' 1 under None without one; null on the node's resolver (dnsPolicy Default, host network), not known.
   */
  ndots: number | null;
}

/** The pod's own DNS fields, with dnsPolicy defaulted as the apiserver does. */
export function ownDns(pod: PodView): PodDns {
  return { dnsPolicy: pod.dnsPolicy ?? 'ClusterFirst', ...(pod.dnsConfig ? { dnsConfig: pod.dnsConfig } : {}) };
}

/** Equal keys ⇔ the same DNS (see the file comment). */
export function dnsKey(dns: PodDns): string {
  const cfg = dns.dnsConfig;
  const options = new Map<string, string>();
  for (const option of cfg?.options ?? []) {
    options.delete(option.name);
    options.set(option.name, option.value ?? '');
  }
  const sorted = [...options].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([dns.dnsPolicy, cfg?.nameservers ?? [], cfg?.searches ?? [], sorted]);
}

export function sameDns(a: PodDns, b: PodDns): boolean {
  return dnsKey(a) === dnsKey(b);
}

export function dnsView(dns: PodDns, hostNetwork: boolean, ctx: ResolvConfContext): DnsView {
  const cfg = dns.dnsConfig;
  const rendered = renderResolvConf({ ...dns, hostNetwork }, ctx);
  const own = cfg?.options?.findLast((o) => o.name === 'ndots');
  const written = rendered.options.findLast((o) => o.name === 'ndots');
  let ndots: number | null;
  if (rendered.type === 'host') ndots = own === undefined ? null : ndotsValue(own.value);
  else ndots = written === undefined ? 1 : ndotsValue(written.value);
  return {
    dnsPolicy: dns.dnsPolicy,
    nameservers: [...(cfg?.nameservers ?? [])],
    searches: [...(cfg?.searches ?? [])],
    options: (cfg?.options ?? []).map(formatOption),
    ndots,
  };
}

/** glibc reads the value with atoi and caps it at 15 (res_init.c); dns-tuner never writes anything else. */
function ndotsValue(value: string | undefined): number {
  const digits = /^\d+/.exec(value ?? '');
  return digits ? Math.min(Number(digits[0]), 15) : 0;
}

/**
 * One line for people: `ClusterFirst ndots:5`, `None 169.254.20.10,10.96.0.10 ndots:3 single-request-reopen
 * timeout:1 attempts:2`. Searches are left out (long, and the same cluster domains on both sides).
 */
export function describeDns(view: DnsView): string {
  const parts = [view.dnsPolicy];
  if (view.nameservers.length > 0) parts.push(view.nameservers.join(','));
  if (view.ndots !== null) parts.push(`ndots:${view.ndots}`);
  for (const option of view.options) if (option !== 'ndots' && !option.startsWith('ndots:')) parts.push(option);
  return parts.join(' ');
}
