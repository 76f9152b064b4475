/**
 * What the cluster itself decides about a pod's DNS, as the engine receives it, and the pure rules that read those
 * facts from API objects already projected by src/kube/cluster-objects.ts.
 *
 * NodeLocal DNSCache runs as a DaemonSet whose name differs by distribution (`node-local-dns` upstream and on GKE,
 * `nodelocaldns` in kubespray): it is recognised by the `-localip` flag of node-cache
 * (https://github.com/kubernetes/dns/blob/master/cmd/node-cache/main.go), a comma-separated list of the addresses it
 * binds. When that list also holds a kube-dns Service IP the cache intercepts the Service IP itself (iptables mode,
 * "transparent"): ClusterFirst pods already reach it, and fall back to CoreDNS when it stops. Otherwise (IPVS mode)
 * only pods whose resolv.conf names the link-local address reach it.
 */
import { formatIp, type IpAddress, ipEquals, parseIp } from './ip.ts';
import type { NetworkPolicy } from './network-policy.ts';
import { isDnsSubdomain } from './validation.ts';

export type NodeLocalMode = 'transparent' | 'link-local';

export interface NodeLocalDns {
  mode: NodeLocalMode;
  /** Every address of `-localip`, as Go prints it: the link-local one, and in transparent mode a kube-dns IP. */
  ips: string[];
  /** The cache answers somewhere: see daemonSetAvailable. */
  available: boolean;
  /** `namespace/name` of the DaemonSet. */
  daemonSet: string;
  /** Its status: nodes that should run a cache pod, and those whose pod is available. */
  pods: { desired: number; available: number };
}

/**
 * What the engine knows of the cluster, as plain data read by an adapter (the API server, or an offline file).
 * Each fact is undefined when it could not be read (RBAC, not in the file): the config is then trusted for it, and
 * `unknown` says why.
 */
export interface ClusterFacts {
  /** Where the facts come from, for messages: `the cluster`, `file cluster.yaml`. */
  origin: string;
  /** The kube-dns Service: its `spec.clusterIPs` (one per family on dual-stack); none when absent or headless. */
  kubeDns?: { service: string; found: boolean; ips: string[] } | undefined;
  /** The CoreDNS ConfigMap: the zones of its Corefile's `kubernetes` plugin, the cluster domain first. */
  coreDns?: { configMap: string; found: boolean; zones: string[] } | undefined;
  /** The DaemonSets that run node-cache (`-localip`), in the namespace where the cache is looked for. */
  nodeLocalDaemonSets?: DaemonSetView[] | undefined;
  /** The NetworkPolicies of the pod's namespace (the adapters narrow them: the others never select the pod). */
  networkPolicies?: NetworkPolicy[] | undefined;
  /** Why a fact is undefined. */
  unknown: Partial<Record<ClusterFact, string>>;
}

export type ClusterFact = 'kubeDns' | 'coreDns' | 'nodeLocalDaemonSets' | 'networkPolicies';

export interface ContainerView {
  name: string;
  command: string[];
  args: string[];
}

/** What a DaemonSet tells about a NodeLocal DNSCache. */
export interface DaemonSetView {
  namespace: string;
  name: string;
  containers: ContainerView[];
  desiredNumberScheduled: number;
  numberAvailable: number;
}

const LOCALIP_FLAGS = new Set(['-localip', '--localip']);

/** A value quoted for a shell (`sh -c "... -localip '169.254.20.10' ..."`), unquoted. */
function unquote(token: string): string {
  const q = token[0];
  return token.length >= 2 && (q === '"' || q === "'") && token.endsWith(q) ? token.slice(1, -1) : token;
}

/**
 * The value of node-cache's `-localip` flag in one container: Go's flag package accepts `-localip X`, `-localip=X`
 * and the same with `--`; the last one wins. `command` and `args` are read as one argv, and each entry is also split
 * on whitespace so that a `sh -c "…"` wrapper is read too.
 */
export function localIpFlag(container: ContainerView): string | undefined {
  const tokens = [...container.command, ...container.args].flatMap((entry) => entry.split(/\s+/).filter(Boolean));
  let value: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (LOCALIP_FLAGS.has(token)) {
      if (i + 1 < tokens.length) value = unquote(tokens[++i]!);
      continue;
    }
    const eq = token.indexOf('=');
    if (eq > 0 && LOCALIP_FLAGS.has(token.slice(0, eq))) value = unquote(token.slice(eq + 1));
  }
  return value;
}

/**
 * The NodeLocal DNSCache this DaemonSet runs, or undefined when none of its containers passes `-localip`.
 * node-cache exits when an address does not parse, so such a cache is reported unavailable, with the addresses
 * that do parse; with none it is not a cache at all.
 */
export function nodeLocalFromDaemonSet(ds: DaemonSetView, kubeDnsIps: readonly string[]): NodeLocalDns | undefined {
  const flag = ds.containers.map(localIpFlag).find((value) => value !== undefined);
  if (flag === undefined) return undefined;
  const entries = flag.split(',');
  const ips = entries.map((entry) => parseIp(entry)).filter((ip): ip is IpAddress => ip !== undefined);
  if (ips.length === 0) return undefined;
  const kubeDns = kubeDnsIps.map((text) => parseIp(text)).filter((ip): ip is IpAddress => ip !== undefined);
  const transparent = ips.some((ip) => kubeDns.some((service) => ipEquals(ip, service)));
  return {
    mode: transparent ? 'transparent' : 'link-local',
    ips: ips.map(formatIp),
    available: ips.length === entries.length && daemonSetAvailable(ds),
    daemonSet: `${ds.namespace}/${ds.name}`,
    pods: { desired: ds.desiredNumberScheduled, available: ds.numberAvailable },
  };
}

/**
 * Some node has an available cache pod. Not "every node": a rolling update of the DaemonSet takes one pod after
 * another away (maxUnavailable, ~20 s each: kubernetes/dns#310), so "every node" would be false for the whole
 * rollout and flip every new pod to options only and back. A pod that lands on a node whose cache restarts resolves
 * through the kube-dns fallback after `timeout` (the reason the fallback exists); with no cache pod anywhere, the
 * rewrite only costs and the pod gets options only.
 */
export function daemonSetAvailable(ds: Pick<DaemonSetView, 'desiredNumberScheduled' | 'numberAvailable'>): boolean {
  return ds.desiredNumberScheduled > 0 && ds.numberAvailable > 0;
}

interface Token {
  text: string;
  line: number;
}

/**
 * The Caddyfile lexer CoreDNS uses (https://github.com/coredns/caddy/blob/master/caddyfile/lexer.go): tokens are
 * separated by whitespace, `#` outside quotes comments out the rest of the line, `"…"` quotes (with `\"`).
 */
function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let value = '';
  let start = 1;
  let inToken = false;
  let quoted = false;
  let escaped = false;
  let comment = false;
  const end = () => {
    if (inToken) tokens.push({ text: value, line: start });
    value = '';
    inToken = false;
  };
  for (const ch of text) {
    if (quoted) {
      if (!escaped && ch === '\\') {
        escaped = true;
        continue;
      }
      if (!escaped && ch === '"') {
        quoted = false;
        end();
        continue;
      }
      if (ch === '\n') line++;
      if (escaped && ch !== '"') value += '\\';
      value += ch;
      escaped = false;
      continue;
    }
    if (/\s/.test(ch)) {
      if (ch === '\n') {
        line++;
        comment = false;
      }
      end();
      continue;
    }
    if (ch === '#') comment = true;
    if (comment) continue;
    if (!inToken) {
      inToken = true;
      start = line;
      if (ch === '"') {
        quoted = true;
        continue;
      }
    }
    value += ch;
  }
  end();
  return tokens;
}

interface ServerBlock {
  keys: string[];
  /** Each directive with the arguments on its line (nested blocks left out). */
  directives: string[][];
}

/** The server blocks of a Corefile, as coredns/caddy's parser groups them (caddyfile/parse.go); snippets left out. */
function serverBlocks(tokens: readonly Token[]): ServerBlock[] {
  const blocks: ServerBlock[] = [];
  let i = 0;
  while (i < tokens.length) {
    // Addresses: until the end of the line, unless one ends with a comma.
    const keys: string[] = [];
    let line = tokens[i]!.line;
    while (i < tokens.length && tokens[i]!.text !== '{') {
      const token = tokens[i]!;
      if (token.line !== line && !keys.at(-1)?.endsWith(',')) break;
      keys.push(token.text);
      line = token.line;
      i++;
    }
    const braced = tokens[i]?.text === '{';
    if (braced) i++;
    const directives: string[][] = [];
    while (i < tokens.length && !(braced && tokens[i]!.text === '}')) {
      const directive = [tokens[i]!.text];
      const directiveLine = tokens[i]!.line;
      let nesting = 0;
      i++;
      while (i < tokens.length) {
        const token = tokens[i]!;
        if (token.text === '{') nesting++;
        else if (token.text === '}' && nesting > 0) nesting--;
        else if (nesting === 0 && (token.line !== directiveLine || token.text === '}')) break;
        else if (nesting === 0) directive.push(token.text);
        i++;
      }
      directives.push(directive);
    }
    if (braced) i++;
    const snippet = keys.length === 1 && keys[0]!.startsWith('(') && keys[0]!.endsWith(')');
    if (!snippet) blocks.push({ keys: keys.map((k) => k.replace(/,$/, '')).filter(Boolean), directives });
  }
  return blocks;
}

/** A zone as CoreDNS normalises it (plugin.Host.NormalizeExact): no scheme, no port, lower case, no final dot. */
function zoneName(text: string): string {
  const withoutScheme = text.replace(/^[a-z]+:\/\//i, '');
  const withoutPort = withoutScheme.replace(/:\d*$/, '');
  return withoutPort.toLowerCase().replace(/\.$/, '');
}

function isReverseZone(zone: string): boolean {
  return zone === 'in-addr.arpa' || zone === 'ip6.arpa' || zone.endsWith('.in-addr.arpa') || zone.endsWith('.ip6.arpa');
}

/**
 * The forward zones the `kubernetes` plugins of a CoreDNS Corefile serve, in order
 * (`kubernetes cluster.local in-addr.arpa ip6.arpa {` → `[cluster.local]`), each plugin's own or, when it names none,
 * its server block's (https://coredns.io/plugins/kubernetes/). The first is the cluster domain; a configured domain
 * that is any of them is served.
 */
export function kubernetesZones(corefile: string): string[] {
  const found = new Set<string>();
  for (const block of serverBlocks(lex(corefile))) {
    for (const [name, ...zones] of block.directives) {
      if (name !== 'kubernetes') continue;
      for (const zone of (zones.length > 0 ? zones : block.keys).map(zoneName)) {
        if (!isReverseZone(zone) && isDnsSubdomain(zone)) found.add(zone);
      }
    }
  }
  return [...found];
}

/** The cluster domain a CoreDNS Corefile serves: its first `kubernetes` zone; undefined when none names a domain. */
export function clusterDomainFromCorefile(corefile: string): string | undefined {
  return kubernetesZones(corefile)[0];
}
