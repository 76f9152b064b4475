/**
 * `npm run bench:dns`: what dns-tuner buys, measured on the real resolvers.
 *
 * For the Kubernetes default (no dns-tuner) and every policy of examples/config.yaml, the pod's resolv.conf is built
 * the way the product builds it — the real engine (`decide`) on the example ClusterFirst pod in namespace `shop`, then
 * kubelet's rendering (`renderResolvConf`) on a node whose own search domain is `ec2.internal` — and every name form a
 * workload uses is resolved by real glibc and real musl in the dns-lab (lab/dns-lab.ts: `unshare -mn`, one
 * dnsmasq for the node-local cache 169.254.20.10 and one for kube-dns 10.96.0.10). Reported per lookup: the queries
 * sent, how many of them went to kube-dns (in a cluster: through the kube-proxy DNAT and conntrack), whether the name
 * resolved, the time healthy, and the time while one server drops every packet (iptables DROP).
 *
 * Outage lookups run one per lab session, several sessions at once (they mostly wait on resolver timeouts, so the
 * timings do not depend on CPU); each is capped (`--cap`, seconds) and reported as "> N s (capped)" when it hits it.
 *
 * Needs root and `apt-get install -y dnsmasq-base musl-tools iptables`.
 *
 *   npm run bench:dns [-- --out docs/benchmarks.md|- --repeats 5 --concurrency 6 --cap 30]
 */
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { coreDnsConfigMap, kubeDnsService, nodeLocalDaemonSet } from '../lab/cluster-dns.ts';
import {
  assertLabPrerequisites,
  buildMuslLookup,
  type LabLookupResult,
  type LabResolver,
  runLab,
  sentTo,
} from '../lab/dns-lab.ts';
import { EXAMPLE_CONFIG, EXAMPLE_REVIEW, ROOT } from '../lab/paths.ts';
import { KUBE_DNS, labRecords, NODE_LOCAL } from '../lab/resolver-variants.ts';
import { median } from '../lab/stats.ts';
import { assembleFacts, projectConfigMap, projectDaemonSet, projectService } from '../src/cluster/objects.ts';
import { parseConfigText } from '../src/config/load.ts';
import type { ClusterFacts, DaemonSetView } from '../src/core/cluster.ts';
import { DEFAULT_CLUSTER_DOMAIN } from '../src/core/cluster-rules.ts';
import { decide } from '../src/core/decide.ts';
import { type RenderedResolvConf, renderResolvConf } from '../src/core/resolv-conf.ts';
import { type Config, LABEL_POLICY, type PodDns } from '../src/core/types.ts';
import { parsePodView } from '../src/kube/pod.ts';
import { defaultNameForms, type NameForm } from '../src/resolver-model/name-forms.ts';
import { writeMarkedSection } from './doc-markers.ts';
import { factsMarkdown, hostFacts, resolverFacts } from './host.ts';

const NAMESPACE = 'shop';
const NODE_SEARCH = ['ec2.internal'];
const SERVERS = [NODE_LOCAL, KUBE_DNS];
const RESOLVERS: LabResolver[] = ['glibc', 'musl'];
/** Lab set-up (dnsmasq start, mounts, iptables) before the lookup begins; a session is killed at cap + this. */
const SETUP_MARGIN_S = 5;
/** Resolved without any DNS query (a numeric host): starts the resolver process before the timed lookups. */
const WARM_UP = '127.0.0.1';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'docs/benchmarks.md') },
    repeats: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '6' },
    cap: { type: 'string', default: '30' },
  },
});
const REPEATS = Math.max(1, Number(args.repeats));
const CONCURRENCY = Math.max(1, Number(args.concurrency));
const CAP_S = Math.max(1, Number(args.cap));

interface Variant {
  key: string;
  title: string;
  /** Why this row exists, one line for the doc. */
  note: string;
  config: Config;
  /** undefined: no dns-tuner (the pod as the apiserver stores it). */
  policy: string | undefined;
  conf: RenderedResolvConf;
  summary: string;
  /**
   * NodeLocal DNSCache in iptables (transparent) mode: the cache answers the kube-dns IP itself, on the node and
   * NOTRACK, so none of the pod's queries takes the conntrack path. The lab's server on the kube-dns IP plays the cache.
   */
  transparent: boolean;
}

/** A cluster whose NodeLocal DNSCache runs in transparent mode (-localip lists the kube-dns IP), as the engine sees it. */
function transparentCluster(config: Config): ClusterFacts {
  const ds = projectDaemonSet(nodeLocalDaemonSet({ transparent: true }));
  return assembleFacts(
    config.discovery,
    {
      origin: 'bench:dns',
      services: new Map([['kube-system/kube-dns', projectService(kubeDnsService([KUBE_DNS]))]]),
      configMaps: new Map([['kube-system/coredns', projectConfigMap(coreDnsConfigMap())]]),
      daemonSets: [ds].filter((d): d is DaemonSetView => d !== undefined),
      policiesOf: () => [],
      unknown: {},
    },
    NAMESPACE,
  );
}

function loadConfig(): Config {
  const parsed = parseConfigText(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.config;
}

/** The example pod (a ReplicaSet's ClusterFirst pod) as the webhook receives it. */
function examplePod(): Record<string, unknown> {
  const review = JSON.parse(readFileSync(EXAMPLE_REVIEW, 'utf8')) as { request: { object: Record<string, unknown> } };
  return review.request.object;
}

/** The pod's DNS after dns-tuner (or untouched), rendered as kubelet writes it on an `ec2.internal` node. */
function buildVariant(
  key: string,
  title: string,
  note: string,
  config: Config,
  policy: string | undefined,
  clusterFacts?: ClusterFacts,
): Variant {
  const raw = examplePod();
  const view = parsePodView(raw);
  if (!view.ok) throw new Error(view.error);
  let dns: PodDns = { dnsPolicy: view.pod.dnsPolicy ?? 'ClusterFirst' };
  let summary = 'no dns-tuner: the pod as created (dnsPolicy=ClusterFirst)';
  if (policy !== undefined) {
    const decision = decide({
      config,
      namespace: NAMESPACE,
      namespaceInfo: { name: NAMESPACE, labels: { [LABEL_POLICY]: policy }, annotations: {} },
      pod: view.pod,
      raw,
      clusterFacts,
    });
    if (decision.action !== 'mutate') throw new Error(`policy ${policy}: expected a mutation, got ${decision.action}`);
    dns = decision.after;
    summary = decision.summary;
  }
  const conf = renderResolvConf(
    { ...dns, hostNetwork: view.pod.hostNetwork },
    {
      namespace: NAMESPACE,
      clusterDomain: config.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
      clusterDNS: config.clusterDNS === undefined ? [] : [config.clusterDNS],
      hostSearchDomains: NODE_SEARCH,
    },
  );
  if (conf.warnings.length > 0) throw new Error(`${key}: kubelet would warn: ${conf.warnings.join('; ')}`);
  const transparent = clusterFacts !== undefined && conf.nameservers.every((ip) => ip === KUBE_DNS);
  return { key, title, note, config, policy, conf, summary, transparent };
}

function variants(): Variant[] {
  const config = loadConfig();
  const list = [
    buildVariant(
      'kubernetes',
      'Kubernetes default (no dns-tuner)',
      'ClusterFirst as kubelet writes it: kube-dns only, ndots:5, the node search domain appended.',
      config,
      undefined,
    ),
  ];
  for (const policy of Object.keys(config.policies)) {
    list.push(
      buildVariant(
        policy,
        `dns-tuner \`${policy}\``,
        `examples/config.yaml as shipped (hostSearchDomains: [${config.hostSearchDomains.join(', ')}]).`,
        config,
        policy,
      ),
    );
  }
  if (config.policies.default?.nodeLocal) {
    list.push(
      buildVariant(
        'default-transparent',
        'dns-tuner `default`, NodeLocal DNSCache in transparent mode',
        'The same policy in a cluster whose cache runs in iptables mode (`-localip` also lists the kube-dns IP): ' +
          'dns-tuner gives options only (reason `node-local-transparent`), the pod keeps kube-dns as its one ' +
          'nameserver, and the cache answers it on the node.',
        config,
        'default',
        transparentCluster(config),
      ),
    );
  }
  if (config.policies.default?.nodeLocal && config.hostSearchDomains.length === 0) {
    list.push(
      buildVariant(
        'default+host-search',
        `dns-tuner \`default\`, hostSearchDomains: [${NODE_SEARCH.join(', ')}]`,
        'The same policy with the node search domain kept, as an operator on AWS would configure it.',
        { ...config, hostSearchDomains: NODE_SEARCH },
        'default',
      ),
    );
  }
  return list;
}

function sentTotal(result: LabLookupResult): number {
  return SERVERS.reduce((sum, server) => sum + sentTo(result, server), 0);
}

interface Healthy {
  queries: number;
  toKubeDns: number;
  /** Queries through the kube-proxy DNAT and conntrack: those to kube-dns, unless the cache answers that IP. */
  conntrack: number;
  resolved: boolean;
  error: string | undefined;
  medianMs: number;
  /** Query counts differed between repeats (should not happen: no cache anywhere). */
  unstable: boolean;
}

type Outage =
  | { kind: 'n/a'; why: string }
  | { kind: 'measured'; seconds: number; resolved: boolean; queries: number; toKubeDns: number }
  | { kind: 'capped'; capSeconds: number }
  | { kind: 'error'; message: string };

interface Row {
  form: NameForm;
  resolver: LabResolver;
  healthy: Healthy;
  nodeLocalDown: Outage;
  kubeDnsDown: Outage;
}

/** All lookups of a variant with every server up, `REPEATS` times each, in one session. */
async function measureHealthy(v: Variant, forms: NameForm[], muslBinary: string) {
  const lookups = [
    ...RESOLVERS.map((resolver) => ({ resolver, name: WARM_UP })),
    ...forms.flatMap((form) =>
      RESOLVERS.flatMap((resolver) => Array.from({ length: REPEATS }, () => ({ resolver, name: form.name }))),
    ),
  ];
  const result = await runLab(
    { resolvConf: v.conf.text, servers: SERVERS, records: labRecords(NAMESPACE), lookups, timeoutMs: 120_000 },
    { muslBinary },
  );
  const healthy = new Map<string, Healthy>();
  for (const form of forms) {
    for (const resolver of RESOLVERS) {
      const runs = result.lookups.filter((l) => l.name === form.name && l.resolver === resolver);
      const first = runs[0];
      if (first === undefined) throw new Error(`no healthy ${resolver} lookup of ${form.name}`);
      healthy.set(`${resolver} ${form.name}`, {
        queries: sentTotal(first),
        toKubeDns: sentTo(first, KUBE_DNS),
        conntrack: v.transparent ? 0 : sentTo(first, KUBE_DNS),
        resolved: first.resolved,
        error: first.error,
        medianMs: median(runs.map((r) => r.elapsedMs)),
        unstable: runs.some((r) => sentTotal(r) !== sentTotal(first) || r.resolved !== first.resolved),
      });
    }
  }
  return healthy;
}

/** One lookup while `down` drops every packet, in a session of its own, capped. */
async function measureOutage(
  v: Variant,
  form: NameForm,
  resolver: LabResolver,
  down: string,
  muslBinary: string,
): Promise<Outage> {
  if (!v.conf.nameservers.includes(down)) return { kind: 'n/a', why: 'not in resolv.conf' };
  // The cache owns the kube-dns IP: stopping gracefully, it hands it back to CoreDNS (the lab cannot show that).
  if (v.transparent) return { kind: 'n/a', why: 'transparent: the cache answers the kube-dns IP' };
  try {
    const result = await runLab(
      {
        resolvConf: v.conf.text,
        servers: SERVERS,
        records: labRecords(NAMESPACE),
        drop: [down],
        // The warm-up starts the resolver's process (the glibc worker is a Node process) without sending a query:
        // getaddrinfo answers an IP literal itself. Only the second lookup is timed.
        lookups: [
          { resolver, name: WARM_UP },
          { resolver, name: form.name },
        ],
        timeoutMs: (CAP_S + SETUP_MARGIN_S) * 1000,
      },
      { muslBinary },
    );
    const r = result.lookups[1]!;
    if (r.elapsedMs > CAP_S * 1000) return { kind: 'capped', capSeconds: CAP_S };
    return {
      kind: 'measured',
      seconds: r.elapsedMs / 1000,
      resolved: r.resolved,
      queries: sentTotal(r),
      toKubeDns: sentTo(r, KUBE_DNS),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes('timed out')) return { kind: 'capped', capSeconds: CAP_S };
    return { kind: 'error', message: message.split('\n')[0] ?? message };
  }
}

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= tasks.length) return;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

function formLabel(form: NameForm): string {
  if (form.kind === 'external') return `external, ${form.dots} dot${form.dots === 1 ? '' : 's'}`;
  if (form.kind === 'svc.ns.svc.domain') return 'FQDN, no trailing dot';
  if (form.kind === 'absolute') return 'FQDN, trailing dot';
  return form.kind;
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(1) : value.toFixed(0);
}

function outageCell(o: Outage): string {
  switch (o.kind) {
    case 'n/a':
      return `n/a (${o.why})`;
    case 'capped':
      return `> ${o.capSeconds} s (capped)`;
    case 'error':
      return `error: ${o.message}`;
    case 'measured': {
      // Outage sessions run side by side: below 0.1 s the number is scheduling noise, not a wait.
      const time = o.seconds < 0.1 ? '< 0.1 s' : `${o.seconds.toFixed(2)} s`;
      return `${time}${o.resolved ? '' : ', **fails**'}`;
    }
  }
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`, ...rows.map(line)].join('\n');
}

function detailTable(rows: Row[]): string {
  return table(
    [
      'name',
      'resolver',
      'queries sent',
      'to kube-dns',
      'through conntrack',
      'resolves',
      'healthy (ms)',
      'node-local dropping',
      'kube-dns dropping',
    ],
    rows.map((r) => [
      `\`${r.form.name}\` (${formLabel(r.form)})`,
      r.resolver,
      `${r.healthy.queries}${r.healthy.unstable ? ' (varied)' : ''}`,
      String(r.healthy.toKubeDns),
      String(r.healthy.conntrack),
      r.healthy.resolved ? 'yes' : `**no** (${r.healthy.error ?? 'no address'})`,
      ms(r.healthy.medianMs),
      outageCell(r.nodeLocalDown),
      outageCell(r.kubeDnsDown),
    ]),
  );
}

/** Sum of outage times over names; "≥" when any was capped, "n/a" when none applies. */
function outageTotal(outages: Outage[]): string {
  if (outages.every((o) => o.kind === 'n/a')) return 'n/a';
  let seconds = 0;
  let capped = false;
  let fails = 0;
  for (const o of outages) {
    if (o.kind === 'measured') {
      seconds += o.seconds;
      if (!o.resolved) fails++;
    } else if (o.kind === 'capped') {
      seconds += o.capSeconds;
      capped = true;
      fails++;
    } else if (o.kind === 'error') {
      return 'error';
    }
  }
  const resolved = outages.length - fails;
  const time = seconds < 0.1 ? '< 0.1 s' : `${capped ? '≥ ' : ''}${seconds.toFixed(1)} s`;
  return `${time}, ${resolved}/${outages.length} resolve`;
}

function summaryTable(results: Array<{ variant: Variant; rows: Row[] }>): string {
  const rows: string[][] = [];
  for (const { variant, rows: all } of results) {
    for (const resolver of RESOLVERS) {
      const mine = all.filter((r) => r.resolver === resolver);
      const sum = (f: (r: Row) => number) => mine.reduce((s, r) => s + f(r), 0);
      rows.push([
        variant.title,
        resolver,
        String(sum((r) => r.healthy.queries)),
        String(sum((r) => r.healthy.toKubeDns)),
        String(sum((r) => r.healthy.conntrack)),
        `${mine.filter((r) => r.healthy.resolved).length}/${mine.length}`,
        ms(sum((r) => r.healthy.medianMs)),
        outageTotal(mine.map((r) => r.nodeLocalDown)),
        outageTotal(mine.map((r) => r.kubeDnsDown)),
      ]);
    }
  }
  return table(
    [
      'pod DNS',
      'resolver',
      'queries sent',
      'to kube-dns',
      'through conntrack',
      'resolve',
      'healthy (ms)',
      'node-local dropping',
      'kube-dns dropping',
    ],
    rows,
  );
}

/** "1.00–4.01 s": the smallest and largest measured outage time of these rows ("n/a" when none measured). */
function timeSpan(rows: Row[], column: 'nodeLocalDown' | 'kubeDnsDown'): string {
  const outages = rows.map((r) => r[column]);
  if (outages.some((o) => o.kind === 'capped')) return `up to > ${CAP_S} s (capped)`;
  const seconds = outages.flatMap((o) => (o.kind === 'measured' ? [o.seconds] : []));
  if (seconds.length === 0) return 'n/a';
  const [lo, hi] = [Math.min(...seconds), Math.max(...seconds)];
  const show = (x: number) => (x < 0.1 ? '< 0.1' : x.toFixed(x < 10 ? 2 : 1));
  return show(hi) === show(lo) ? `${show(lo)} s` : `${show(lo)}–${show(hi)} s`;
}

function report(results: Array<{ variant: Variant; rows: Row[] }>, startedAt: Date, seconds: number): string {
  const facts = { ...hostFacts(), ...resolverFacts() };
  const names = results[0]?.rows.filter((r) => r.resolver === 'glibc').map((r) => `\`${r.form.name}\``) ?? [];
  const parts = [
    `Command: \`npm run bench:dns\` (as root; the dns-lab needs \`unshare -mn\`, bind mounts and iptables). ` +
      `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, took ${seconds.toFixed(0)} s.`,
    '',
    factsMarkdown({
      CPUs: `${facts.cpus} × ${facts.cpuModel}`,
      memory: facts.memory,
      kernel: facts.kernel,
      glibc: facts.glibc,
      musl: facts.musl,
      dnsmasq: facts.dnsmasq,
      node: facts.node,
    }),
    '',
    'How: each pod DNS below is what the product produces — the real engine (`decide`) on the example ClusterFirst ' +
      `pod of examples/admission-review.json in namespace \`${NAMESPACE}\` with examples/config.yaml, rendered as ` +
      `kubelet writes it (\`renderResolvConf\`) on a node whose own search domain is \`${NODE_SEARCH.join(' ')}\`. ` +
      `Real glibc (getaddrinfo via Node's \`dns.lookup\`) and real musl (a \`musl-gcc -static\` getaddrinfo program) ` +
      `resolve each name (AF_UNSPEC: A and AAAA) inside \`unshare -mn\` against two dnsmasq servers, the node-local ` +
      `cache ${NODE_LOCAL} and kube-dns ${KUBE_DNS}, which know \`my-svc.${NAMESPACE}.svc.cluster.local\` and the ` +
      'three external names and answer NXDOMAIN for everything else (no cache anywhere). Names: ' +
      `${names.join(', ')}.`,
    '',
    '- **queries sent**: DNS query packets the resolver sent for one lookup (A and AAAA count separately), from ' +
      "the servers' query logs plus what an iptables DROP rule caught. **to kube-dns**: those sent to the kube-dns " +
      'Service IP. **through conntrack**: of those, the packets that go through the kube-proxy DNAT and conntrack ' +
      '(the path of the 5-second A/AAAA race): all of them, unless NodeLocal DNSCache runs in transparent mode and ' +
      'answers the kube-dns IP itself (NOTRACK, like all node-local traffic; the lab server on that IP plays the ' +
      'cache then). Both measured healthy.',
    `- **healthy (ms)**: median of ${REPEATS} lookups, including the hand-off to the resolver process (a pipe to ` +
      'the glibc worker, a spawn of the static musl program), so read it as relative.',
    '- **node-local dropping** / **kube-dns dropping**: one lookup while that server drops every packet (iptables ' +
      `DROP on its IP), each in a fresh lab session, ${CONCURRENCY} sessions side by side (they mostly wait on ` +
      `resolver timeouts, so read the times to about ±0.5 s; under 0.1 s is shown as "< 0.1 s": no wait); capped at ` +
      `${CAP_S} s. "n/a": that server is ` +
      "not in the pod's " +
      'resolv.conf, so its outage does not touch the pod (for the Kubernetes default the node-local cache is not used ' +
      'at all; kube-dns dropping is the outage that matters there).',
    '',
    '### Totals over the names',
    '',
    summaryTable(results),
    '',
  ];
  for (const { variant, rows } of results) {
    parts.push(
      `### ${variant.title}`,
      '',
      `${variant.note} Pod: ${variant.summary}.`,
      '',
      '```',
      variant.conf.text.trimEnd(),
      '```',
      '',
      detailTable(rows),
      '',
    );
  }
  const sumOf = (key: string, resolver: LabResolver, field: 'queries' | 'conntrack') =>
    String(
      (results.find((r) => r.variant.key === key)?.rows ?? [])
        .filter((r) => r.resolver === resolver)
        .reduce((sum, r) => sum + r.healthy[field], 0),
    );
  const span = (key: string, resolver: LabResolver, column: 'nodeLocalDown' | 'kubeDnsDown') =>
    timeSpan(results.find((r) => r.variant.key === key)?.rows.filter((r) => r.resolver === resolver) ?? [], column);
  parts.push(
    '### Reading it',
    '',
    '- **The conntrack path.** With the `default` policy, glibc pods send no query at all to kube-dns while the ' +
      'node-local cache answers (0 in "to kube-dns"), so a kube-dns or conntrack outage does not touch them ' +
      `(${span('default', 'glibc', 'kubeDnsDown')} per lookup). Under the Kubernetes default every query takes that ` +
      `path, and the same outage costs glibc ${span('kubernetes', 'glibc', 'kubeDnsDown')} per lookup ` +
      '(`timeout:5` × `attempts:2` on the first name tried; glibc then gives up on the search list and tries the ' +
      `name as-is once more) and musl ${span('kubernetes', 'musl', 'kubeDnsDown')}, and nothing resolves.`,
    `- **A dead node-local cache** costs glibc \`timeout:1\` per name tried before kube-dns answers: ` +
      `${span('default', 'glibc', 'nodeLocalDown')} per lookup, more for names that walk more of the search list; ` +
      'everything still resolves.',
    '- **musl** sends every query to every nameserver at once: it never waits on a dead one when there is a second, ' +
      'but with the `default` policy the kube-dns path still carries half of its queries (twice the packets glibc ' +
      'sends). Without a fallback it waits its whole `timeout` (a total budget on musl) and fails.',
    '- **ndots:3** sends names with 3 or more dots as-is first (2 queries instead of 10 for ' +
      '`s3.eu-west-1.amazonaws.com`); names with fewer dots still walk the search list, so 1- and 2-dot external ' +
      'names cost as many queries as before, one fewer search domain without the node one.',
    '- **Transparent mode.** Where the cache already answers the kube-dns IP, the `default` policy gives options ' +
      'only: the pod keeps kube-dns as its one nameserver, and no query takes the conntrack path without any rewrite ' +
      `(through conntrack: glibc ${sumOf('default-transparent', 'glibc', 'conntrack')}, musl ` +
      `${sumOf('default-transparent', 'musl', 'conntrack')}; with the link-local rewrite ${sumOf('default', 'glibc', 'conntrack')} ` +
      `and ${sumOf('default', 'musl', 'conntrack')}). musl sends ${sumOf('default-transparent', 'musl', 'queries')} queries ` +
      `instead of the rewrite's ${sumOf('default', 'musl', 'queries')} (one nameserver to ask, not two); glibc ` +
      `${sumOf('default-transparent', 'glibc', 'queries')} instead of ${sumOf('kubernetes', 'glibc', 'queries')} untouched ` +
      '(ndots:3; kubelet keeps the node search domain under ClusterFirst). The fail-over to CoreDNS while the cache ' +
      'restarts stays built in.',
    '- **`options-only`** changes no query count; it shortens the outage (glibc ' +
      `${span('options-only', 'glibc', 'kubeDnsDown')}, musl ${span('options-only', 'musl', 'kubeDnsDown')}) and ` +
      'sends A and AAAA on separate sockets (`single-request-reopen`, against the conntrack race, not visible here).',
  );
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  assertLabPrerequisites();
  const startedAt = new Date();
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'bench-dns-'));
  try {
    const muslBinary = await buildMuslLookup(dir);
    const forms = defaultNameForms({ namespace: NAMESPACE, clusterDomain: 'cluster.local', absolute: true });
    const list = variants();
    const results: Array<{ variant: Variant; rows: Row[] }> = [];
    for (const v of list) {
      process.stderr.write(`bench:dns: ${v.title}: healthy lookups\n`);
      const healthy = await measureHealthy(v, forms, muslBinary);
      results.push({
        variant: v,
        rows: forms.flatMap((form) =>
          RESOLVERS.map((resolver) => ({
            form,
            resolver,
            healthy: healthy.get(`${resolver} ${form.name}`)!,
            nodeLocalDown: { kind: 'n/a', why: '' } as Outage,
            kubeDnsDown: { kind: 'n/a', why: '' } as Outage,
          })),
        ),
      });
    }
    const tasks: Array<() => Promise<void>> = [];
    for (const { variant, rows } of results) {
      for (const row of rows) {
        tasks.push(async () => {
          row.nodeLocalDown = await measureOutage(variant, row.form, row.resolver, NODE_LOCAL, muslBinary);
        });
        tasks.push(async () => {
          row.kubeDnsDown = await measureOutage(variant, row.form, row.resolver, KUBE_DNS, muslBinary);
        });
      }
    }
    process.stderr.write(`bench:dns: ${tasks.length} outage lookups, ${CONCURRENCY} at a time (cap ${CAP_S} s)\n`);
    let done = 0;
    await pool(
      tasks.map((task) => async () => {
        await task();
        done++;
        if (done % 10 === 0 || done === tasks.length) process.stderr.write(`bench:dns: ${done}/${tasks.length}\n`);
      }),
      CONCURRENCY,
    );
    const body = report(results, startedAt, (performance.now() - t0) / 1000);
    process.stdout.write(`${body}\n`);
    if (args.out !== '-') {
      writeMarkedSection(args.out, 'bench:dns', 'What it buys: DNS', body);
      process.stderr.write(`bench:dns: wrote ${args.out}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
