/**
 * The DNS fields a pod should end up with under its effective settings.
 *
 * Node-local needs `dnsPolicy: None`: kubelet *appends* dnsConfig nameservers after the cluster DNS IP, so under
 * ClusterFirst the cache would only ever be a fallback
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/network/dns/dns.go, appendDNSConfig).
 * What the pod author already wrote in spec.dnsConfig is kept; ours is merged around it. The `None` form must give
 * the pod everything kubelet would have given it (ADR 2): every search domain kubelet would keep, the cluster's own
 * search domains, every nameserver of the author's that kubelet would keep, and the kube-dns fallback when the policy
 * asks for one. When it cannot, the pod keeps its dnsPolicy and gets the options only.
 */
import { clusterSearches, fitSearches, KUBELET_NDOTS, omitDuplicates } from './resolv-conf.ts';
import type { ResolverOption } from './resolver-options.ts';
import type { NodeLocalDeclinedReason, PodDns, PodDnsConfig, PodView, ResolvedConfig, Settings } from './types.ts';
import { MAX_NAMESERVERS } from './validation.ts';
import type { WarningList } from './warnings.ts';

export interface Target {
  after: PodDns;
  /** How many of `after.dnsConfig.options` are the author's, kept first and in place; the rest are ours. */
  authorOptions: number;
  /** Set when the settings ask for node-local and the `None` form cannot honour the pod's DNS. */
  nodeLocalDeclined?: { reason: NodeLocalDeclinedReason; message: string } | undefined;
}

/** The `None` form's lists, or why it cannot be built without taking something from the pod. */
type NodeLocalForm =
  | { ok: true; nameservers: string[]; searches: string[] }
  | { ok: false; reason: NodeLocalDeclinedReason; message: string };

/**
 * Expects a pod within the apiserver's limits (decide checks `invalidPodProblem` first): every step is linear.
 * `declined`: the cluster's rules (./cluster-rules.ts) keep the pod from the cache, which they have said (warned) why.
 */
export function buildTarget(
  config: ResolvedConfig,
  settings: Settings,
  namespace: string,
  pod: PodView,
  warnings: WarningList,
  declined?: { reason: NodeLocalDeclinedReason; message: string } | undefined,
): Target {
  const own = pod.dnsConfig ?? {};
  const dnsPolicy = pod.dnsPolicy ?? 'ClusterFirst';
  let form: NodeLocalForm | undefined;
  if (settings.nodeLocal.value && config.nodeLocalDNS !== undefined) {
    if (declined !== undefined) form = { ok: false, ...declined };
    else {
      form = nodeLocalForm(config, config.nodeLocalDNS, settings.fallback.value, namespace, own, warnings);
      if (!form.ok) warnings.add(`dns-tuner: options only: ${form.message}`);
    }
  }
  const nodeLocal = form?.ok === true;

  const ndots = settings.ndots.value ?? (nodeLocal ? KUBELET_NDOTS : undefined);
  const ours: ResolverOption[] = [];
  if (ndots !== undefined) ours.push({ name: 'ndots', value: String(ndots) });
  for (const o of settings.options) if (o.source !== 'pod-spec') ours.push(o.value);
  const options = appendMissingOptions(own.options ?? [], ours);

  const dnsConfig: PodDnsConfig = {};
  if (form?.ok) {
    dnsConfig.nameservers = form.nameservers;
    dnsConfig.searches = form.searches;
  } else {
    if (own.nameservers !== undefined) dnsConfig.nameservers = own.nameservers;
    if (own.searches !== undefined) dnsConfig.searches = own.searches;
  }
  if (options.length > 0 || own.options !== undefined) dnsConfig.options = options;

  const empty = Object.keys(dnsConfig).length === 0 && pod.dnsConfig === undefined;
  return {
    after: { dnsPolicy: nodeLocal ? 'None' : dnsPolicy, ...(empty ? {} : { dnsConfig }) },
    authorOptions: own.options?.length ?? 0,
    nodeLocalDeclined: form?.ok === false ? { reason: form.reason, message: form.message } : undefined,
  };
}

/**
 * The author's options keep their place and value; ours that the author did not write are appended. One pass over
 * the author's list against ours (a handful), so a pod with 100,000 options costs no 100,000-entry set.
 */
function appendMissingOptions(author: readonly ResolverOption[], ours: ResolverOption[]): ResolverOption[] {
  const missing = new Map<string, ResolverOption>();
  for (const o of ours) if (!missing.has(o.name)) missing.set(o.name, o);
  for (const o of author) missing.delete(o.name);
  return author.concat([...missing.values()]);
}

function nodeLocalForm(
  config: ResolvedConfig,
  nodeLocalDNS: string,
  fallbackWanted: boolean,
  namespace: string,
  own: PodDnsConfig,
  warnings: WarningList,
): NodeLocalForm {
  // The kube-dns fallback is the pod's path to cluster DNS while the cache restarts (~20 s per node on upgrades,
  // kubernetes/dns#310): without its address there is no honest node-local form.
  if (fallbackWanted && config.clusterDNS === undefined) {
    return {
      ok: false,
      reason: 'no-cluster-dns',
      message: 'no clusterDNS configured or discovered for the kube-dns fallback',
    };
  }
  const fallback = fallbackWanted ? config.clusterDNS : undefined;

  // kubelet (ClusterFirst) writes [kube-dns, ...author's] without duplicates and keeps the first 3 (dns.go,
  // appendDNSConfig, then the nameserver limit): the author's servers it would keep must stay. An author's entry equal
  // to the kube-dns IP shares kube-dns's slot, and stays theirs even when the policy wants no fallback.
  const theirs: string[] = [];
  const beyondKubelet: string[] = [];
  let slots = MAX_NAMESERVERS - 1;
  for (const ip of omitDuplicates(own.nameservers ?? [])) {
    if (ip === config.clusterDNS) theirs.push(ip);
    else if (slots > 0) {
      theirs.push(ip);
      slots--;
    } else beyondKubelet.push(ip);
  }
  const ours = fallback === undefined ? [nodeLocalDNS] : [nodeLocalDNS, fallback];
  const nameservers = omitDuplicates([...ours, ...theirs]);
  if (nameservers.length > MAX_NAMESERVERS) {
    const extra = theirs.filter((ip) => !ours.includes(ip));
    const beside = fallback === undefined ? 'node-local' : 'node-local and the kube-dns fallback';
    return {
      ok: false,
      reason: 'nameservers-full',
      message: `nameservers ${extra.join(', ')} leave no room for ${beside} (${MAX_NAMESERVERS} at most)`,
    };
  }
  for (const ip of beyondKubelet) {
    warnings.add(
      `dns-tuner: dropped nameserver ${ip}: kubelet keeps ${MAX_NAMESERVERS}, as it would without dns-tuner`,
    );
  }

  // Exactly the search list kubelet would build for the pod under ClusterFirst, with hostSearchDomains standing in for
  // the node's (kubelet trims their trailing dot): nothing kubelet would keep is lost, and the result passes the
  // apiserver's limits because kubelet's limits are the same. (A line of 255 bytes or more is ignored by musl — but
  // it would be without dns-tuner too; the dry-run report says so.)
  const nodeSearches = config.hostSearchDomains.map((s) => (s.endsWith('.') ? s.slice(0, -1) : s));
  const composed = omitDuplicates([
    ...clusterSearches(namespace, config.clusterDomain),
    ...nodeSearches,
    ...(own.searches ?? []),
  ]);
  const fitted = fitSearches(composed);
  if (fitted.exceeded) {
    const kept = new Set(fitted.searches);
    const dropped = composed.filter((s) => !kept.has(s));
    warnings.add(
      `dns-tuner: dropped ${dropped.length} search domain${dropped.length === 1 ? '' : 's'} past kubelet's limits, ` +
        `as kubelet would: ${dropped.join(' ')}`,
    );
  }
  return { ok: true, nameservers, searches: fitted.searches };
}
