/**
 * The dry-run report: everything a person needs to see before a namespace opts in, built from one review exactly as
 * /mutate answered it (the decision, where each setting came from, the patch byte for byte), plus what follows
 * from it: the resolv.conf kubelet writes before and after, the DNS queries one lookup costs under glibc and musl,
 * and the warnings. Pure: the HTTP route (../http/dry-run.ts) and `dns-tuner explain` (../cli/explain.ts) both
 * build it here.
 */
import { type AdmissionResponse, buildReviewResponse, podName } from '../admission/review.ts';
import { clusterView, resolveConfig } from '../core/cluster-rules.ts';
import type { DecideInput } from '../core/decide.ts';
import { type RenderedResolvConf, type ResolvConfContext, renderResolvConf } from '../core/resolv-conf.ts';
import type {
  Config,
  Decision,
  Mode,
  NamespaceInfo,
  PatchOperation,
  PodDns,
  PodView,
  ResolvedConfig,
  Settings,
} from '../core/types.ts';
import { costTable } from '../resolver-model/cost-table.ts';
import { defaultWorld, type NameForm, type NameFormKind, nameForms } from '../resolver-model/name-forms.ts';
import type { LookupCost, Outcome, World } from '../resolver-model/query-cost.ts';
import { resolverWarnings } from '../resolver-model/warnings.ts';
import type { ReviewDecision, ReviewOutcome } from '../review/outcome.ts';
import { buildClusterSection, type ClusterSection } from './cluster-section.ts';
import { unifiedDiff } from './diff.ts';
import type { DryRunTarget, InputForm } from './input.ts';

export const REPORT_API_VERSION = 'dns-tuner.io/v1alpha1' as const;

/** The slice of the review service's outcome (../review/outcome.ts) the report reads. */
export type ReviewResult = Pick<ReviewOutcome, 'response' | 'decision' | 'reason' | 'policy' | 'detail' | 'engine'>;

/** Where the namespace's labels and annotations came from. */
export type NamespaceOrigin =
  /** The webhook's namespace source (cluster watch cache, or the --namespaces file). */
  | 'namespace-source'
  /** The request's `{"namespace": {…}}` wrapper (or `explain --label/--annotation`): "what if I label it". */
  | 'what-if'
  /** `explain` offline without --namespaces or --label: nothing is known about the namespace. */
  | 'none';

export interface NamespaceSection {
  name: string;
  origin: NamespaceOrigin;
  status: 'found' | 'not-found' | 'unavailable' | 'not-looked-up';
  /** Only `dns-tuner.io/*` keys: the only ones the engine reads. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  error?: string | undefined;
}

export interface PatchSection {
  /** True when /mutate sends this patch (action mutate); false for dry-run mode (would-be patch) and no change. */
  sentByMutate: boolean;
  /** What the patch is, in words. */
  note: string;
  /** The `response.patch` string: for mutate, byte for byte what /mutate returns; for dry-run mode, what enforce would. */
  base64: string | null;
  /** The same operations, decoded. */
  operations: PatchOperation[];
}

export interface ResolvConfSection {
  /** What kubelet is assumed to run with (clusterDNS and clusterDomain as in the Cluster section, hostSearchDomains). */
  node: { clusterDNS: string[]; clusterDomain: string; hostSearchDomains: string[] };
  before: RenderedResolvConf;
  after: RenderedResolvConf;
  /** `diff -u` of the two files. */
  diff: string;
}

export interface CostCell {
  /** DNS queries one lookup sends (A and AAAA count separately). */
  queries: number;
  /** Queries per nameserver, in resolv.conf order. */
  perNameserver: Record<string, number>;
  resolves: boolean;
  outcome: Outcome;
  /** The names asked, in order. */
  asked: string[];
  answeredBy?: string | undefined;
  /** Model caveats for this lookup (e.g. `rotate`: the per-nameserver split varies between processes). */
  notes?: string[] | undefined;
}

export interface CostRowReport {
  name: string;
  kind: NameFormKind;
  dots: number;
  inCluster: boolean;
  /** The absolute name the lookup is meant to reach (the one that exists in the model's world). */
  target: string;
  glibc: { before: CostCell; after: CostCell };
  musl: { before: CostCell; after: CostCell };
}

export interface QueryCostSection {
  model: string;
  rows: CostRowReport[];
  /** What the table means for this cluster (e.g. transparent mode: the kube-dns IP is the node-local cache). */
  notes: string[];
}

export type WarningSource = 'engine' | 'kubelet' | 'resolver';

export interface ReportWarning {
  source: WarningSource;
  message: string;
}

export interface DnsSection {
  before: PodDns;
  after: PodDns;
  /** `applied`: /mutate sets it; `would-be`: dry-run mode, nothing is changed; `unchanged`: after equals before. */
  afterIs: 'applied' | 'would-be' | 'unchanged';
}

export interface DryRunReport {
  apiVersion: typeof REPORT_API_VERSION;
  kind: 'DryRunReport';
  input: {
    form: InputForm;
    kind: string;
    apiVersion?: string | undefined;
    name?: string | undefined;
    namespace: string;
    /** The pod's name, or `<generateName>*` for controller-made pods. */
    pod?: string | undefined;
    /** What was filled in the way the apiserver defaults it before admission. */
    defaulted: string[];
  };
  namespace: NamespaceSection;
  decision: ReviewDecision;
  /** The same words as the webhook's log line and dns_tuner_reviews_total{reason}. */
  reason: string;
  message: string;
  policy: string | null;
  mode: Mode | null;
  /** Every effective setting with its value and where it came from (null when the engine skipped the pod). */
  settings: Settings | null;
  patch: PatchSection;
  /** The AdmissionReview `response` /mutate returns for this pod (uid of the dry-run request). */
  mutateResponse: AdmissionResponse;
  dns: DnsSection | null;
  resolvConf: ResolvConfSection | null;
  queryCost: QueryCostSection | null;
  /** The cluster's DNS as dns-tuner sees it, and what the pod's NetworkPolicies let through (when the engine ran). */
  cluster: ClusterSection | null;
  warnings: ReportWarning[];
  /** The pod that was evaluated (for a workload: the pod its controller would create). */
  pod: Record<string, unknown> | undefined;
}

export interface ReportInput {
  target: DryRunTarget;
  review: ReviewResult;
  /** The config the review ran with. */
  config: Config;
  namespaceOrigin: NamespaceOrigin;
  /** Extra names for the cost table (`?names=`), already validated. */
  names?: readonly string[] | undefined;
}

export const COST_MODEL =
  'one getaddrinfo() lookup (A and AAAA) against healthy nameservers; in-cluster names exist as ' +
  '<svc>.<namespace>.svc.<clusterDomain>, external names as written';

export function buildDryRunReport(input: ReportInput): DryRunReport {
  const { target, review, config } = input;
  const engine = review.engine;
  const decision = engine?.decision;
  const namespace = namespaceSection(target.namespace, input.namespaceOrigin, engine?.input);
  const message =
    decision === undefined
      ? (review.detail ?? review.reason)
      : decision.action === 'skip'
        ? decision.message
        : `${decision.policy}: ${decision.summary}`;
  const settings = decision && decision.action !== 'skip' ? decision.settings : null;

  const warnings: ReportWarning[] = (review.response.response.warnings ?? []).map((message) => ({
    source: 'engine',
    message,
  }));
  let dns: DnsSection | null = null;
  let resolvConf: ResolvConfSection | null = null;
  let queryCost: QueryCostSection | null = null;
  let cluster: ClusterSection | null = null;
  const pod = engine?.input.pod;
  if (engine !== undefined && pod !== undefined && decision !== undefined) {
    cluster = buildClusterSection(engine.input, decision);
    const view = clusterView(config, engine.input.clusterFacts);
    const resolved = resolveConfig(config, view);
    dns = dnsSection(pod, decision);
    const ctx = resolvContext(resolved, target.namespace);
    const before = renderResolvConf({ ...dns.before, hostNetwork: pod.hostNetwork }, ctx);
    const after = renderResolvConf({ ...dns.after, hostNetwork: pod.hostNetwork }, ctx);
    resolvConf = {
      node: {
        clusterDNS: ctx.clusterDNS,
        clusterDomain: ctx.clusterDomain,
        hostSearchDomains: [...config.hostSearchDomains],
      },
      before,
      after,
      diff: unifiedDiff(before.text, after.text, { before: 'resolv.conf (before)', after: resolvLabel(dns.afterIs) }),
    };
    if (dns.afterIs === 'unchanged') {
      for (const w of after.warnings) warnings.push({ source: 'kubelet', message: w });
    } else {
      for (const w of before.warnings) warnings.push({ source: 'kubelet', message: `before: ${w}` });
      for (const w of after.warnings) warnings.push({ source: 'kubelet', message: `after: ${w}` });
    }
    // The node's own resolv.conf is not known here, so a pod on the host resolver has no modelled cost.
    if (after.type !== 'host' && before.type !== 'host') {
      const forms = nameForms(target.namespace, resolved.clusterDomain, input.names ?? []);
      const world = defaultWorld(forms);
      const rows = costRows(before, after, forms, world);
      const notes: string[] = [];
      const cache = view.nodeLocal.cache;
      if (view.nodeLocal.mode === 'transparent' && cache !== undefined) {
        const kubeDns = cache.ips.filter((ip) => after.nameservers.includes(ip));
        if (kubeDns.length > 0) {
          notes.push(
            `transparent mode: ${kubeDns.join(', ')} is answered by the NodeLocal DNSCache on the node ` +
              '(NOTRACK: no conntrack), and by CoreDNS while the cache restarts',
          );
        }
      }
      queryCost = { model: COST_MODEL, rows, notes };
      // A name that stops resolving on musl is said once: the "resolves now but will not" sentence.
      const lostOnMusl = new Set(
        rows.filter((r) => r.musl.before.resolves && !r.musl.after.resolves).map((r) => r.name),
      );
      for (const message of resolverWarnings(before, after, forms, world, lostOnMusl)) {
        warnings.push({ source: 'resolver', message });
      }
    }
  }

  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'DryRunReport',
    input: {
      form: target.form,
      kind: target.kind,
      apiVersion: target.apiVersion,
      name: target.name,
      namespace: target.namespace,
      pod: podName(target.request.object),
      defaulted: target.defaulted,
    },
    namespace,
    decision: review.decision,
    reason: review.reason,
    message,
    policy: decision?.policy ?? review.policy ?? null,
    mode: settings?.mode.value ?? null,
    settings,
    patch: patchSection(review, decision),
    mutateResponse: review.response.response,
    dns,
    resolvConf,
    queryCost,
    cluster,
    warnings,
    pod: target.request.object,
  };
}

function namespaceSection(name: string, origin: NamespaceOrigin, input: DecideInput | undefined): NamespaceSection {
  const info: NamespaceInfo | undefined = input?.namespaceInfo;
  const status: NamespaceSection['status'] =
    input === undefined
      ? 'not-looked-up'
      : input.namespaceError !== undefined
        ? 'unavailable'
        : info === undefined
          ? 'not-found'
          : 'found';
  return {
    name,
    origin,
    status,
    labels: { ...(info?.labels ?? {}) },
    annotations: { ...(info?.annotations ?? {}) },
    ...(input?.namespaceError !== undefined ? { error: input.namespaceError } : {}),
  };
}

function patchSection(review: ReviewResult, decision: Decision | undefined): PatchSection {
  const sent = review.response.response.patch;
  if (sent !== undefined) {
    return {
      sentByMutate: true,
      note: 'the patch /mutate returns for this pod',
      base64: sent,
      operations: JSON.parse(Buffer.from(sent, 'base64').toString('utf8')) as PatchOperation[],
    };
  }
  if (decision?.action === 'dry-run') {
    // The same encoding /mutate uses (buildReviewResponse), so it is the string enforce mode would send.
    const wouldBe = buildReviewResponse(review.response.response.uid, { patch: decision.patch }).response.patch;
    return {
      sentByMutate: false,
      note: 'WOULD-BE patch: the namespace is in dry-run mode, /mutate sends no patch; this is what enforce mode sends',
      base64: wouldBe ?? null,
      operations: decision.patch,
    };
  }
  const why =
    decision?.action === 'unchanged'
      ? 'the pod already carries the result'
      : `skipped (${decision?.action === 'skip' ? decision.reason : review.reason})`;
  return { sentByMutate: false, note: `no patch: ${why}`, base64: null, operations: [] };
}

function dnsSection(pod: PodView, decision: Decision): DnsSection {
  if (decision.action === 'skip' || decision.action === 'unchanged') {
    const before: PodDns = decision.action === 'unchanged' ? decision.before : ownDns(pod);
    return { before, after: before, afterIs: 'unchanged' };
  }
  return {
    before: decision.before,
    after: decision.after,
    afterIs: decision.action === 'mutate' ? 'applied' : 'would-be',
  };
}

function ownDns(pod: PodView): PodDns {
  return { dnsPolicy: pod.dnsPolicy ?? 'ClusterFirst', ...(pod.dnsConfig ? { dnsConfig: pod.dnsConfig } : {}) };
}

function resolvLabel(afterIs: DnsSection['afterIs']): string {
  switch (afterIs) {
    case 'applied':
      return 'resolv.conf (after)';
    case 'would-be':
      return 'resolv.conf (would be, dry-run mode)';
    case 'unchanged':
      return 'resolv.conf (after: unchanged)';
  }
}

/** kubelet's view of the node: the cluster DNS IP and domain in force, and the config's node search domains. */
export function resolvContext(config: ResolvedConfig, namespace: string): ResolvConfContext {
  return {
    namespace,
    clusterDomain: config.clusterDomain,
    clusterDNS: config.clusterDNS ? [config.clusterDNS] : [],
    hostSearchDomains: [...config.hostSearchDomains],
  };
}

function cell(cost: LookupCost): CostCell {
  return {
    queries: cost.total,
    perNameserver: { ...cost.perNameserver },
    resolves: cost.resolves,
    outcome: cost.outcome,
    asked: cost.candidates.map((c) => c.name),
    ...(cost.answeredBy !== undefined ? { answeredBy: cost.answeredBy } : {}),
    ...(cost.notes.length > 0 ? { notes: [...cost.notes] } : {}),
  };
}

function costRows(
  before: RenderedResolvConf,
  after: RenderedResolvConf,
  forms: readonly NameForm[],
  world: World,
): CostRowReport[] {
  const b = costTable(before, forms, world);
  const a = costTable(after, forms, world);
  return forms.map((form, i) => ({
    name: form.name,
    kind: form.kind,
    dots: form.dots,
    inCluster: form.inCluster,
    target: form.target,
    glibc: { before: cell(b[i]!.glibc), after: cell(a[i]!.glibc) },
    musl: { before: cell(b[i]!.musl), after: cell(a[i]!.musl) },
  }));
}
