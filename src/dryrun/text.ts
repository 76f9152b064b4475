/**
 * The human-readable dry-run report (`Accept: text/plain`, and `dns-tuner explain` by default). Pure: the JSON report
 * in, text out, so the endpoint and the CLI print the same thing.
 */
import { formatOption } from '../core/resolver-options.ts';
import type { PodDns, Settings, Sourced } from '../core/types.ts';
import type { ClusterSection, EgressReport, ProtocolReport } from './cluster-section.ts';
import type { NamespaceReport } from './namespace-report.ts';
import type { CostCell, CostRowReport, DryRunReport, NamespaceSection } from './report.ts';

const ARROW = '→';
const FAILS = '✗';

export function formatReportText(report: DryRunReport): string {
  return printable(reportLines(report));
}

function reportLines(report: DryRunReport): string {
  const out: string[] = [];
  const input = report.input;
  const what = input.name === undefined ? input.kind : `${input.kind} ${input.namespace}/${input.name}`;
  const pod = input.form === 'workload' && input.pod !== undefined ? ` (as the pod ${input.pod} it creates)` : '';
  out.push(`dns-tuner dry run: ${what}${pod}`);
  if (input.defaulted.length > 0)
    out.push(`  filled in as the apiserver does before admission: ${input.defaulted.join(', ')}`);
  out.push(namespaceLine(report.namespace));
  out.push('');

  out.push(`Decision: ${report.decision.toUpperCase()} (${report.reason})`);
  out.push(`  ${report.message}`);
  if (report.policy !== null)
    out.push(`  policy ${report.policy}${report.mode === null ? '' : `, mode ${report.mode}`}`);
  out.push('');

  if (report.settings !== null) {
    append(out, settingsLines(report.settings), '');
  }

  if (report.cluster !== null) append(out, clusterLines(report.cluster), '');

  append(out, patchLines(report), '');

  if (report.dns !== null) {
    const afterLabel = report.dns.afterIs === 'would-be' ? 'would be' : 'after';
    out.push('Pod DNS fields');
    out.push(`  before:   ${describeDns(report.dns.before)}`);
    out.push(
      `  ${`${afterLabel}:`.padEnd(9)} ${report.dns.afterIs === 'unchanged' ? '(unchanged)' : describeDns(report.dns.after)}`,
    );
    out.push('');
  }

  if (report.resolvConf !== null) {
    const node = report.resolvConf.node;
    const search = node.hostSearchDomains.length > 0 ? node.hostSearchDomains.join(' ') : 'none';
    const dnsIps = node.clusterDNS.length > 0 ? node.clusterDNS.join(' ') : '(not configured)';
    out.push(
      `resolv.conf as kubelet writes it (clusterDNS ${dnsIps}, clusterDomain ${node.clusterDomain}, node search domains: ${search})`,
    );
    append(out, indent(report.resolvConf.diff.trimEnd().split('\n')));
    out.push('');
  }

  if (report.queryCost !== null) {
    append(out, costLines(report), '');
  } else if (report.resolvConf !== null) {
    out.push("Query cost: not modelled, the pod uses the node's own resolv.conf (not known to dns-tuner)", '');
  }

  if (report.warnings.length === 0) out.push('Warnings: none');
  else {
    out.push('Warnings');
    for (const w of report.warnings) out.push(`  [${w.source}] ${w.message}`);
  }
  return `${out.join('\n')}\n`;
}

function namespaceLine(ns: NamespaceSection): string {
  const keys = [
    ...Object.entries(ns.labels).map(([k, v]) => `label ${k}=${v}`),
    ...Object.entries(ns.annotations).map(([k, v]) => `annotation ${k}=${v}`),
  ];
  const ours = keys.length > 0 ? keys.join(', ') : 'no dns-tuner.io/* labels or annotations';
  switch (ns.origin === 'none' ? 'none' : ns.status) {
    case 'none':
      return `Namespace ${ns.name}: nothing known about it (offline: pass --namespaces FILE, or --label dns-tuner.io/policy=NAME to ask "what if")`;
    case 'not-found':
      return `Namespace ${ns.name}: not known to the namespace source`;
    case 'unavailable':
      return `Namespace ${ns.name}: could not be read (${ns.error ?? 'unknown error'})`;
    case 'not-looked-up':
      return `Namespace ${ns.name}: not looked up`;
    default:
      return `Namespace ${ns.name} (${ns.origin === 'what-if' ? 'what if, as given in the request' : 'from the namespace source'}): ${ours}`;
  }
}

export function describeSource(s: Sourced<unknown>): string {
  switch (s.source) {
    case 'built-in':
      return 'built-in default';
    case 'policy':
      return s.from === 'config mode' ? 'config mode' : `policy ${s.from}`;
    case 'namespace-annotation':
      return `namespace annotation ${s.from}`;
    case 'pod-annotation':
      return `pod annotation ${s.from}`;
    case 'pod-spec':
      return "the pod's own spec.dnsConfig";
  }
}

function settingsLines(settings: Settings): string[] {
  const rows: Array<[string, string, string]> = [
    ['mode', settings.mode.value, describeSource(settings.mode)],
    [
      'ndots',
      settings.ndots.value === undefined ? 'unset (kubelet/None default 5)' : String(settings.ndots.value),
      describeSource(settings.ndots),
    ],
    ...settings.options.map((o): [string, string, string] => ['option', formatOption(o.value), describeSource(o)]),
    ['node-local', String(settings.nodeLocal.value), describeSource(settings.nodeLocal)],
    ['fallback', String(settings.fallback.value), describeSource(settings.fallback)],
    ['pod-overrides', String(settings.podOverrides.value), describeSource(settings.podOverrides)],
  ];
  return [
    `Settings (policy ${settings.policy}) and where each comes from`,
    ...table(['SETTING', 'VALUE', 'FROM'], rows),
  ];
}

function patchLines(report: DryRunReport): string[] {
  const patch = report.patch;
  if (patch.base64 === null) return [`Patch: none, ${patch.note.replace(/^no patch: /, '')}`];
  const n = patch.operations.length;
  const lines = [`Patch: ${patch.note} (${n} operation${n === 1 ? '' : 's'})`];
  for (const op of patch.operations) {
    const value = op.value === undefined ? '' : ` ${JSON.stringify(op.value)}`;
    lines.push(`  ${op.op} ${op.path}${value}`);
  }
  lines.push(`  base64: ${patch.base64}`);
  return lines;
}

export function describeDns(dns: PodDns): string {
  const parts = [`dnsPolicy=${dns.dnsPolicy}`];
  const cfg = dns.dnsConfig;
  if (cfg?.nameservers?.length) parts.push(`nameservers=${cfg.nameservers.join(',')}`);
  if (cfg?.searches?.length) parts.push(`searches=${cfg.searches.join(',')}`);
  if (cfg?.options?.length) parts.push(`options=${cfg.options.map(formatOption).join(',')}`);
  return parts.join(' ');
}

function cellText(before: CostCell, after: CostCell): string {
  const one = (c: CostCell) => `${c.queries}${c.resolves ? '' : FAILS}`;
  return `${one(before)} ${ARROW} ${one(after)}`;
}

function perServer(c: CostCell): string {
  return Object.entries(c.perNameserver)
    .map(([ns, n]) => `${ns}:${n}`)
    .join(' ');
}

function costLines(report: DryRunReport): string[] {
  const cost = report.queryCost!;
  const rows = cost.rows.map((r): string[] => [
    r.name,
    String(r.dots),
    cellText(r.glibc.before, r.glibc.after),
    cellText(r.musl.before, r.musl.after),
    perServer(r.glibc.after),
    perServer(r.musl.after),
  ]);
  const afterWord = report.dns?.afterIs === 'would-be' ? 'would-be' : 'after';
  return [
    `Query cost: DNS queries one lookup sends (A+AAAA), before ${ARROW} ${afterWord}; ${FAILS} = does not resolve`,
    ...table(
      [
        'NAME',
        'DOTS',
        'GLIBC',
        'MUSL',
        `GLIBC ${afterWord.toUpperCase()} PER SERVER`,
        `MUSL ${afterWord.toUpperCase()} PER SERVER`,
      ],
      rows,
      [1],
    ),
    `  model: ${cost.model}`,
    ...[...cost.notes, ...notes(cost.rows)].map((n) => `  note: ${n}`),
  ];
}

function clusterLines(cluster: ClusterSection): string[] {
  const origin =
    cluster.origin === null
      ? 'no cluster facts: the config is trusted'
      : `facts from ${cluster.origin}; what it does not hold is not checked and the config is trusted for it`;
  const nodeLocal = cluster.nodeLocal;
  const pods = nodeLocal.pods === undefined ? '' : ` (${nodeLocal.pods.available}/${nodeLocal.pods.desired} pods)`;
  const availability =
    nodeLocal.available === null ? '' : nodeLocal.available ? `, available${pods}` : `, NOT available${pods}`;
  const mismatch = (m: string | undefined) => (m === undefined ? [] : [`  MISMATCH: ${m}`]);
  const lines = [
    `Cluster (${origin})`,
    ...table(
      ['FACT', 'VALUE', 'FROM'],
      [
        ['kube-dns IP', cluster.kubeDns.value ?? '(none)', cluster.kubeDns.from],
        ['cluster domain', cluster.clusterDomain.value, cluster.clusterDomain.from],
        ['node-local', `${nodeLocal.ip ?? '(none)'} ${nodeLocal.mode}${availability}`, nodeLocal.from],
      ],
    ),
    ...mismatch(cluster.kubeDns.mismatch),
    ...mismatch(cluster.clusterDomain.mismatch),
  ];
  if (nodeLocal.pod !== undefined) {
    lines.push(
      nodeLocal.pod.pointed
        ? '  this pod: pointed at the node-local cache'
        : `  this pod: options only (${nodeLocal.pod.reason}): ${nodeLocal.pod.message}`,
    );
  }
  const policies = cluster.networkPolicies;
  if (policies.status === 'not-known') {
    lines.push(`  NetworkPolicies: not checked (${policies.note ?? 'not read'})`);
  } else if (policies.status === 'not-isolated') {
    lines.push('  NetworkPolicies: none selects the pod for egress: its DNS may go anywhere');
  } else {
    const more = policies.selectedCount - policies.selectedBy.length;
    const names = policies.selectedBy.map((p) => `${p.namespace}/${p.name}`).join(', ');
    lines.push(`  NetworkPolicies selecting the pod for egress: ${names}${more > 0 ? ` and ${more} more` : ''}`);
    for (const [what, towards] of [
      ['the node-local cache', policies.cache],
      ['kube-dns', policies.kubeDns],
    ] as const) {
      if (towards !== undefined)
        lines.push(`    to ${what} ${towards.ip}: ${egressText(towards, what === 'kube-dns')}`);
    }
    for (const note of policies.notes) lines.push(`    note: ${note}`);
  }
  if (policies.asserted) {
    lines.push(
      '  the namespace asserts the cache is reachable (dns-tuner.io/node-local-reachable: "true"): not checked',
    );
  }
  if (policies.fix !== undefined) {
    lines.push('  The NetworkPolicy that lets these pods reach the cache (kubectl apply -f -):');
    append(lines, indent(indent(policies.fix.trimEnd().split('\n'))));
  }
  return lines;
}

/**
 * What one destination gets. Pod/namespace selector rules never match the cache (a node address); towards kube-dns
 * they do when they select the CoreDNS pods the Service forwards to, which dns-tuner does not read.
 */
function egressText(towards: EgressReport, kubeDns: boolean): string {
  const one = (name: string, p: ProtocolReport) => {
    if (p.allowed) return `${name} 53 allowed${p.allowedBy.length > 0 ? ` by ${p.allowedBy.join(', ')}` : ''}`;
    const rules = p.podSelectorRules.join(', ');
    if (p.podSelectorRules.length === 0) return `${name} 53 blocked`;
    return kubeDns
      ? `${name} 53 allowed if the selectors of ${rules} match the CoreDNS pods`
      : `${name} 53 blocked (${rules} ${p.podSelectorRules.length === 1 ? 'selects' : 'select'} pods, never a node address)`;
  };
  return `${one('UDP', towards.udp)}; ${one('TCP', towards.tcp)}`;
}

/** The model's caveats, once each (they repeat on every row they apply to). */
function notes(rows: readonly CostRowReport[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) {
    for (const c of [r.glibc.before, r.glibc.after, r.musl.before, r.musl.after])
      for (const n of c.notes ?? []) seen.add(n);
  }
  return [...seen];
}

/** Left-aligned columns (right-aligned where asked), two spaces apart, indented by two. */
function table(header: string[], rows: string[][], rightAligned: number[] = []): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => all.reduce((width, r) => Math.max(width, [...(r[i] ?? '')].length), 0));
  return all.map(
    (r) =>
      `  ${r
        .map((c, i) => {
          const pad = widths[i]! - [...c].length;
          return rightAligned.includes(i) ? ' '.repeat(pad) + c : c + (i === r.length - 1 ? '' : ' '.repeat(pad));
        })
        .join('  ')}`,
  );
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `  ${l}`);
}

// ---------------------------------------------------------------------------------------------------------------

export function formatNamespaceReportText(report: NamespaceReport): string {
  return printable(namespaceReportLines(report));
}

function namespaceReportLines(report: NamespaceReport): string {
  const out: string[] = [];
  out.push(namespaceLine(report.namespace));
  out.push(`Opted in: ${report.optedIn ? 'yes' : 'no'}`);
  out.push(`Decision for a plain ClusterFirst pod: ${report.decision.toUpperCase()} (${report.reason})`);
  out.push(`  ${report.message}`);
  if (report.settings !== null) {
    out.push('');
    append(out, settingsLines(report.settings));
  }
  if (report.podDns !== null) out.push('', `A plain ClusterFirst pod gets: ${describeDns(report.podDns)}`);
  if (report.warnings.length > 0) {
    out.push('', 'Warnings');
    for (const w of report.warnings) out.push(`  ${w}`);
  }
  return `${out.join('\n')}\n`;
}

/** Appends `lines`, then `more`, one by one: spreading a long list into push() overflows the stack. */
function append(out: string[], lines: readonly string[], ...more: string[]): void {
  for (const line of lines) out.push(line);
  for (const line of more) out.push(line);
}

/**
 * The report goes to a terminal: every control character (but newline and tab) and every bidirectional override that
 * came in with the pod — an option name, an annotation value, a pod name — is shown as an escape, never sent raw.
 */
function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this does.
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
