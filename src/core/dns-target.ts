/**
 * The DNS fields a pod should end up with under its effective settings.
 *
 * Node-local needs `dnsPolicy: None`: kubelet *appends* dnsConfig nameservers after the cluster DNS IP, so under
 * ClusterFirst the cache would only ever be a fallback
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/network/dns/dns.go, appendDNSConfig).
 * What the pod author already wrote in spec.dnsConfig is kept; ours is merged around it.
 */
import { clusterSearches, KUBELET_NDOTS } from './resolv-conf.ts';
import type { ResolverOption } from './resolver-options.ts';
import type { Config, PodDns, PodDnsConfig, PodView, Settings } from './types.ts';
import { MAX_NAMESERVERS, MAX_SEARCH_CHARS, MAX_SEARCHES, MUSL_MAX_LINE, searchLineLength } from './validation.ts';

export interface Target {
  after: PodDns;
  /** For each option in `after.dnsConfig.options`: the index of the author's entry it keeps, or -1 if it is ours. */
  optionOrigins: number[];
  warnings: string[];
}

export function buildTarget(config: Config, settings: Settings, namespace: string, pod: PodView): Target {
  const warnings: string[] = [];
  const own = pod.dnsConfig ?? {};
  const dnsPolicy = pod.dnsPolicy ?? 'ClusterFirst';
  const nodeLocal = settings.nodeLocal.value && config.nodeLocalDNS !== undefined;

  const ndots = settings.ndots.value ?? (nodeLocal ? KUBELET_NDOTS : undefined);
  const ours: ResolverOption[] = [];
  if (ndots !== undefined) ours.push({ name: 'ndots', value: String(ndots) });
  for (const o of settings.options) if (o.source !== 'pod-spec') ours.push(o.value);
  const { options, origins } = appendMissingOptions(own.options ?? [], ours);

  const dnsConfig: PodDnsConfig = {};
  if (nodeLocal) {
    dnsConfig.nameservers = nameservers(config, settings, own.nameservers ?? [], warnings);
    dnsConfig.searches = searches(config, namespace, own.searches ?? [], warnings);
  } else {
    if (own.nameservers !== undefined) dnsConfig.nameservers = own.nameservers;
    if (own.searches !== undefined) dnsConfig.searches = own.searches;
  }
  if (options.length > 0 || own.options !== undefined) dnsConfig.options = options;

  const empty = Object.keys(dnsConfig).length === 0 && pod.dnsConfig === undefined;
  return {
    after: { dnsPolicy: nodeLocal ? 'None' : dnsPolicy, ...(empty ? {} : { dnsConfig }) },
    optionOrigins: origins,
    warnings,
  };
}

/** The author's options keep their place and value; ours that the author did not write are appended. */
function appendMissingOptions(
  author: ResolverOption[],
  ours: ResolverOption[],
): { options: ResolverOption[]; origins: number[] } {
  const options = [...author];
  const origins = author.map((_, i) => i);
  const taken = new Set(author.map((o) => o.name));
  for (const o of ours) {
    if (taken.has(o.name)) continue;
    taken.add(o.name);
    options.push(o);
    origins.push(-1);
  }
  return { options, origins };
}

function nameservers(config: Config, settings: Settings, author: string[], warnings: string[]): string[] {
  const primary = config.nodeLocalDNS!;
  const fallback = settings.fallback.value ? config.clusterDNS : undefined;
  const theirs = author.filter((ip) => ip !== primary && ip !== fallback);
  const list = [primary, ...(fallback ? [fallback] : []), ...theirs.filter((ip, i) => theirs.indexOf(ip) === i)];
  // The apiserver allows 3. The author's servers win over our fallback; past that, the last ones go.
  while (list.length > MAX_NAMESERVERS) {
    const drop = fallback !== undefined && list.includes(fallback) ? fallback : list[list.length - 1]!;
    list.splice(list.indexOf(drop), 1);
    warnings.push(`dns-tuner: dropped nameserver ${drop}: a pod may have at most ${MAX_NAMESERVERS}`);
  }
  return list;
}

function searches(config: Config, namespace: string, author: string[], warnings: string[]): string[] {
  const base = clusterSearches(namespace, config.clusterDomain);
  const list: string[] = [];
  for (const s of [...base, ...config.hostSearchDomains, ...author]) if (!list.includes(s)) list.push(s);
  // Never drop the namespace's own domain; past it, the last entries go first.
  const fits = () =>
    list.length <= MAX_SEARCHES && list.join(' ').length <= MAX_SEARCH_CHARS && searchLineLength(list) <= MUSL_MAX_LINE;
  while (list.length > 1 && !fits()) {
    const drop = list.pop()!;
    warnings.push(`dns-tuner: dropped search domain ${drop}: over ${MAX_SEARCHES} entries or musl's 255-byte line`);
  }
  return list;
}
