/**
 * What a rollout changes for one typical external lookup: the DNS queries one `getaddrinfo()` sends under glibc and
 * musl with the pod's resolv.conf now and after the rollout, and how many of them go to kube-dns (the Service IP:
 * the conntrack/DNAT path). The resolver model and the resolv.conf rendering are the dry-run report's.
 */
import { clusterView, resolveConfig } from '../core/cluster-rules.ts';
import { renderResolvConf } from '../core/resolv-conf.ts';
import type { Config, PodDns } from '../core/types.ts';
import { resolvContext } from '../dryrun/report.ts';
import { worldOf } from '../resolver-model/name-forms.ts';
import { type LookupCost, lookupCost, type Resolver } from '../resolver-model/query-cost.ts';

/** A 2-dot name, the most common shape of an external API name; `--name` picks another. */
export const DEFAULT_LOOKUP_NAME = 'api.example.com';

export interface LookupSide {
  /** DNS queries one lookup sends (A and AAAA count separately). */
  queries: number;
  /** Of those, sent to the kube-dns Service IP (the config's clusterDNS); null when the config names none. */
  viaKubeDns: number | null;
  resolves: boolean;
}

export interface QueryCostChange {
  name: string;
  glibc: { now: LookupSide; afterRollout: LookupSide };
  musl: { now: LookupSide; afterRollout: LookupSide };
}

/** Null when either side uses the node's own resolv.conf (dnsPolicy Default, host network): not known here. */
export function queryCostChange(
  config: Config,
  namespace: string,
  hostNetwork: boolean,
  now: PodDns,
  afterRollout: PodDns,
  name: string,
): QueryCostChange | null {
  // The audit reads no cluster facts (yet): the config's values, kubelet's default domain when it names none.
  const ctx = resolvContext(resolveConfig(config, clusterView(config, undefined)), namespace);
  const before = renderResolvConf({ ...now, hostNetwork }, ctx);
  const after = renderResolvConf({ ...afterRollout, hostNetwork }, ctx);
  if (before.type === 'host' || after.type === 'host') return null;
  const world = worldOf([name.replace(/\.$/, '')]);
  const side = (resolver: Resolver, conf: typeof before): LookupSide =>
    sideOf(lookupCost(resolver, name, conf, world), config.clusterDNS);
  return {
    name,
    glibc: { now: side('glibc', before), afterRollout: side('glibc', after) },
    musl: { now: side('musl', before), afterRollout: side('musl', after) },
  };
}

function sideOf(cost: LookupCost, clusterDNS: string | undefined): LookupSide {
  return {
    queries: cost.total,
    viaKubeDns: clusterDNS === undefined ? null : (cost.perNameserver[clusterDNS] ?? 0),
    resolves: cost.resolves,
  };
}
