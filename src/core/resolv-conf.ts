/**
 * The resolv.conf a pod gets, rendered the way kubelet builds it
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/network/dns/dns.go, `GetPodDNS`) and the container
 * runtime writes it (containerd `parseDNSOptions`: a `search` line, one `nameserver` line per server, an `options`
 * line, each only when non-empty). Pure: the node's own resolv.conf comes in as data.
 */
import { formatOption, type ResolverOption } from './resolver-options.ts';
import type { PodDns } from './types.ts';
import { MAX_NAMESERVERS, MAX_SEARCH_CHARS, MAX_SEARCH_ENTRY_CHARS, MAX_SEARCHES } from './validation.ts';

/** kubelet's `podDNSType`. */
export type PodDnsType = 'none' | 'cluster' | 'host';

/** The three things a resolv.conf says, as the resolvers read them. */
export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: ResolverOption[];
}

export interface RenderedResolvConf extends ResolvConf {
  /** How kubelet treated the pod (after the missing-cluster-DNS fallback). */
  type: PodDnsType;
  /** The file as written into the container. */
  text: string;
  /** What kubelet reports as Warning events on the pod (`DNSConfigForming`, `MissingClusterDNS`) or logs. */
  warnings: string[];
}

export interface ResolvConfContext {
  namespace: string;
  /** kubelet `--cluster-domain`; empty means the cluster search domains are left out. */
  clusterDomain: string;
  /** kubelet `--cluster-dns`; empty makes ClusterFirst pods fall back to the host's resolv.conf. */
  clusterDNS: string[];
  /** The node's resolv.conf (kubelet `--resolv-conf`), already split into its three parts. */
  hostSearchDomains?: string[] | undefined;
  hostNameservers?: string[] | undefined;
  hostOptions?: ResolverOption[] | undefined;
}

/** kubelet's ndots for cluster-type pods (the resolver's own default is 1; `None` has no kubelet default). */
export const KUBELET_NDOTS = 5;

/** The options kubelet writes for cluster-type pods, replacing the node's. */
const CLUSTER_OPTIONS: readonly ResolverOption[] = [{ name: 'ndots', value: String(KUBELET_NDOTS) }];

/** kubelet's cluster search domains for a pod in `namespace`, before the node's own. */
export function clusterSearches(namespace: string, clusterDomain: string): string[] {
  return [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
}

/** `getPodDNSType`: ClusterFirst on the host network behaves like Default; an unknown policy is treated as cluster. */
export function podDnsType(dnsPolicy: string, hostNetwork = false): PodDnsType | undefined {
  switch (dnsPolicy) {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'ClusterFirst':
      return hostNetwork ? 'host' : 'cluster';
    case 'Default':
      return 'host';
    default:
      return undefined;
  }
}

/** kubelet's `omitDuplicates`: first occurrence wins, order kept. */
export function omitDuplicates(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * kubelet's `mergeDNSOptions`: options keyed by name, the pod's value wins, an empty value is written as a bare flag.
 * kubelet goes through a Go map, so its order is random; this keeps first-appearance order so output is stable.
 */
export function mergeOptions(existing: readonly ResolverOption[], pod: readonly ResolverOption[]): ResolverOption[] {
  const merged = new Map<string, string>();
  for (const option of [...existing, ...pod]) merged.set(option.name, option.value ?? '');
  return [...merged].map(([name, value]) => (value === '' ? { name } : { name, value }));
}

/**
 * `formDNSSearchFitsLimits`: first cut to 32 entries, then drop over-long entries (glibc 2.28 aborted on them), then
 * cut from the end to 2048 characters. Linear: one pass over at most 32 entries.
 */
export function fitSearches(searches: readonly string[]): { searches: string[]; exceeded: boolean } {
  let exceeded = searches.length > MAX_SEARCHES;
  const result = searches.slice(0, MAX_SEARCHES).filter((s) => s.length <= MAX_SEARCH_ENTRY_CHARS);
  if (result.length !== Math.min(searches.length, MAX_SEARCHES)) exceeded = true;
  let chars = result.reduce((sum, s) => sum + s.length, Math.max(result.length - 1, 0));
  while (chars > MAX_SEARCH_CHARS) {
    chars -= result.pop()!.length + 1;
    exceeded = true;
  }
  return { searches: result, exceeded };
}

/** The file text, as containerd's `parseDNSOptions` writes it (CRI-O writes the same three lines). */
export function formatResolvConf(conf: ResolvConf): string {
  let text = '';
  if (conf.searches.length > 0) text += `search ${conf.searches.join(' ')}\n`;
  for (const server of conf.nameservers) text += `nameserver ${server}\n`;
  if (conf.options.length > 0) text += `options ${conf.options.map(formatOption).join(' ')}\n`;
  return text;
}

/** Renders the resolv.conf kubelet would give this pod on a node described by `ctx`. */
export function renderResolvConf(
  pod: PodDns & { hostNetwork?: boolean | undefined },
  ctx: ResolvConfContext,
): RenderedResolvConf {
  const warnings: string[] = [];
  let type = podDnsType(pod.dnsPolicy, pod.hostNetwork ?? false);
  if (type === undefined) {
    // The apiserver rejects other values; kubelet logs and falls back to ClusterFirst.
    warnings.push(`invalid DNSPolicy=${pod.dnsPolicy}: kubelet falls back to ClusterFirst`);
    type = 'cluster';
  }
  if (type === 'cluster' && ctx.clusterDNS.length === 0) {
    warnings.push(
      `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`,
    );
    type = 'host';
  }

  // kubelet's parseResolvConf trims a trailing dot from the node's search domains.
  const hostSearches = (ctx.hostSearchDomains ?? []).map((s) => (s.endsWith('.') ? s.slice(0, -1) : s));
  let conf: ResolvConf;
  switch (type) {
    case 'none':
      conf = { nameservers: [], searches: [], options: [] };
      break;
    case 'cluster': {
      const domain = ctx.clusterDomain;
      const searches =
        domain === '' ? hostSearches : omitDuplicates([...clusterSearches(ctx.namespace, domain), ...hostSearches]);
      conf = { nameservers: [...ctx.clusterDNS], searches, options: [...CLUSTER_OPTIONS] };
      break;
    }
    case 'host':
      conf = {
        nameservers: [...(ctx.hostNameservers ?? [])],
        searches: hostSearches,
        options: [...(ctx.hostOptions ?? [])],
      };
      break;
  }

  const dnsConfig = pod.dnsConfig;
  if (dnsConfig !== undefined) {
    conf = {
      nameservers: omitDuplicates([...conf.nameservers, ...(dnsConfig.nameservers ?? [])]),
      searches: omitDuplicates([...conf.searches, ...(dnsConfig.searches ?? [])]),
      options: mergeOptions(conf.options, dnsConfig.options ?? []),
    };
  }

  if (conf.nameservers.length > MAX_NAMESERVERS) {
    conf.nameservers = conf.nameservers.slice(0, MAX_NAMESERVERS);
    warnings.push(
      `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.join(' ')}`,
    );
  }
  const fitted = fitSearches(conf.searches);
  if (fitted.exceeded) {
    conf.searches = fitted.searches;
    warnings.push(
      `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${conf.searches.join(' ')}`,
    );
  }

  return { ...conf, type, text: formatResolvConf(conf), warnings };
}

/**
 * Reads a resolv.conf the way glibc does for the parts dns-tuner cares about: `nameserver` lines accumulate (the
 * resolvers use the first 3), the last `search`/`domain` line wins, `options` lines accumulate with later values
 * overriding earlier ones. Unknown lines and `#`/`;` comments are ignored.
 */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let searches: string[] = [];
  const options = new Map<string, string | undefined>();
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    const [keyword, ...rest] = fields;
    if (keyword === undefined || keyword.startsWith('#') || keyword.startsWith(';')) continue;
    if (keyword === 'nameserver' && rest[0] !== undefined) nameservers.push(rest[0]);
    else if (keyword === 'search') searches = rest;
    else if (keyword === 'domain') searches = rest.slice(0, 1);
    else if (keyword === 'options') {
      for (const token of rest) {
        const colon = token.indexOf(':');
        const name = colon === -1 ? token : token.slice(0, colon);
        options.delete(name);
        options.set(name, colon === -1 ? undefined : token.slice(colon + 1));
      }
    }
  }
  return {
    nameservers,
    searches,
    options: [...options].map(([name, value]) => (value === undefined ? { name } : { name, value })),
  };
}
