/**
 * `dns-tuner audit`: which running pods do not have the DNS the webhook gives a pod created now, grouped by the
 * workload to roll, with the command that rolls it. Reads the cluster through the user's kubeconfig (get/list only:
 * nothing is written), reviews each owner's pod template with the webhook's own review service (../audit/).
 *
 * Exit codes: 0 every pod in scope has what it would get now; 3 a rollout would change some (a CI gate); 2 bad input
 * (flags, config, kubeconfig, a namespace that does not exist, a selector the API refuses); 1 the API failed or
 * something could not be read (the report still covers the rest).
 */
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { DEFAULT_LOOKUP_NAME } from '../audit/cost.ts';
import { type AuditReport, buildAuditReport } from '../audit/report.ts';
import { type AuditProgress, auditCluster } from '../audit/run.ts';
import { formatAuditText } from '../audit/text.ts';
import { loadConfig } from '../config/load.ts';
import { isNamespaceName, parseNames } from '../dryrun/input.ts';
import { DnsTunerError, EXIT_CHANGES, EXIT_FAILED, EXIT_OK, isExpected } from '../errors.ts';
import { createApiClient } from '../kube/api-client.ts';
import { connectionOf, KubeConfigError, loadKubeConfig } from '../kube/kubeconfig.ts';
import { createReviewService } from '../review/service.ts';

export const AUDIT_USAGE = `Usage: dns-tuner audit [-n NAMESPACE | -A] [options]

Which running pods do not have the DNS the webhook gives a pod created now, and what to roll: each workload
(Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, bare pod) with its pods by state, their DNS now and
after a rollout, the DNS queries of one external lookup (glibc and musl), and the command that rolls it. Read-only.

States: untuned (the webhook would tune it; created before the opt-in or while the webhook was down), stale (tuned
under an older policy), tuned, skipped (the webhook leaves such pods alone; the reason says why).

Scope
  -n, --namespace NAME      audit this namespace (repeatable, or a,b); default: the kubeconfig context's namespace
  -A, --all-namespaces      audit every namespace
  -l, --selector SELECTOR   only pods matching this label selector (as kubectl -l)

Policy and cluster
      --config FILE         the webhook's policy configuration (its ConfigMap's config.yaml); default: built-in
      --kubeconfig FILE     default: $KUBECONFIG, the in-cluster service account, ~/.kube/config

Output
  -o, --output FORMAT       text (default), json or yaml
      --summary             pod counts per namespace only
      --show-all            text: list tuned and skipped workloads too
      --name NAME           the external name whose query cost is shown (default ${DEFAULT_LOOKUP_NAME})
      --page-size N         pods (and owners) per list request (default 500)

Exit codes: 0 nothing to roll, 3 a rollout would change some pods, 2 bad input, 1 the API failed or something
could not be read (the report covers the rest).
`;

export interface AuditIo {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean | undefined };
}

type Output = 'text' | 'json' | 'yaml';

interface AuditFlags {
  namespaces: string[] | undefined;
  all: boolean;
  selector: string | undefined;
  config: string | undefined;
  kubeconfig: string | undefined;
  output: Output;
  summary: boolean;
  showAll: boolean;
  name: string;
  pageSize: number;
}

/** Runs `dns-tuner audit ARGS`; resolves to the exit code. Never throws. */
export async function runAudit(args: string[], io: AuditIo, env: NodeJS.ProcessEnv): Promise<number> {
  let flags: AuditFlags | 'help';
  try {
    flags = parseAuditFlags(args);
  } catch (error) {
    if (!isExpected(error)) throw error;
    io.stderr.write(`dns-tuner audit: ${error.message}\nRun dns-tuner audit --help for usage.\n`);
    return error.exitCode;
  }
  if (flags === 'help') {
    io.stdout.write(AUDIT_USAGE);
    return EXIT_OK;
  }
  const progress = progressLine(io.stderr);
  try {
    const report = await audit(flags, env, progress.update);
    progress.clear();
    io.stdout.write(render(report, flags));
    if (!report.complete) {
      const n = report.problems.length + report.problemsOmitted;
      io.stderr.write(
        `dns-tuner audit: incomplete, ${n} part${n === 1 ? '' : 's'} could not be read (see the report)\n`,
      );
      return EXIT_FAILED;
    }
    const s = report.summary.states;
    return s.untuned.pods + s.stale.pods > 0 ? EXIT_CHANGES : EXIT_OK;
  } catch (error) {
    progress.clear();
    io.stderr.write(`dns-tuner audit: ${error instanceof Error ? error.message : String(error)}\n`);
    return isExpected(error) ? error.exitCode : EXIT_FAILED;
  }
}

async function audit(
  flags: AuditFlags,
  env: NodeJS.ProcessEnv,
  onProgress: (p: AuditProgress) => void,
): Promise<AuditReport> {
  const config = await loadConfig(flags.config);
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig({ kubeconfig: flags.kubeconfig, env });
  } catch (error) {
    if (error instanceof KubeConfigError) throw new DnsTunerError('DNS_TUNER_AUDIT_KUBECONFIG', error.message);
    throw error;
  }
  const connection = connectionOf(kubeConfig);
  // As kubectl: without -n or -A, the current context's namespace.
  const namespaces =
    flags.all || flags.namespaces !== undefined
      ? flags.namespaces
      : [kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace || 'default'];
  const tally = await auditCluster(
    {
      api: createApiClient(connection, { userAgent: 'dns-tuner-audit' }),
      server: connection.server,
      // The one place the audit's review service is built: the same service and dependencies as /mutate's.
      createReview: (source) => createReviewService({ getConfig: () => config, namespaces: source }),
    },
    {
      scope: flags.all ? { all: true } : { all: false, namespaces: namespaces ?? [] },
      selector: flags.selector,
      pageSize: flags.pageSize,
      onProgress,
    },
  );
  return buildAuditReport(tally, {
    config,
    configName: flags.config ?? 'built-in',
    scope: {
      allNamespaces: flags.all,
      namespaces: flags.all ? [] : (namespaces ?? []),
      selector: flags.selector ?? null,
    },
    lookupName: flags.name,
    summaryOnly: flags.summary,
  });
}

function render(report: AuditReport, flags: AuditFlags): string {
  switch (flags.output) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'yaml':
      return stringify(report, { lineWidth: 0 });
    case 'text':
      return formatAuditText(report, { showAll: flags.showAll });
  }
}

/** A progress line on stderr for long runs, only where a person watches (a terminal), at most 5 times a second. */
function progressLine(stderr: AuditIo['stderr']): { update: (p: AuditProgress) => void; clear: () => void } {
  if (!stderr.isTTY) return { update: () => {}, clear: () => {} };
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      stderr.write(`\r\u001b[2Kdns-tuner audit: reading ${p.phase}… ${p.read.toLocaleString('en-US')}`);
    },
    clear() {
      if (shown) stderr.write('\r\u001b[2K');
    },
  };
}

function parseAuditFlags(args: string[]): AuditFlags | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (parsed.positionals.length > 0) throw usageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
  const all = v['all-namespaces'] ?? false;
  let namespaces: string[] | undefined;
  if (v.namespace !== undefined) {
    if (all) throw usageError('-n and -A both choose the namespaces; give one');
    namespaces = [];
    for (const entry of v.namespace) {
      for (const raw of entry.split(',')) {
        const name = raw.trim();
        if (!isNamespaceName(name)) throw new DnsTunerError('DNS_TUNER_BAD_NAMESPACE', JSON.stringify(name));
        if (!namespaces.includes(name)) namespaces.push(name);
      }
    }
  }
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json' && output !== 'yaml') {
    throw usageError(`--output must be text, json or yaml, got ${JSON.stringify(output)}`);
  }
  if (v['show-all'] && (output !== 'text' || v.summary)) {
    throw usageError('--show-all is for the text list of workloads (json and yaml list every workload)');
  }
  const names = parseNames(v.name, '--name');
  if (!names.ok) throw usageError(names.error.message.replace(/^bad query parameter /, ''));
  if (names.value.length > 1) throw usageError(`--name takes one name, got ${names.value.length}`);
  const pageSize = v['page-size'] === undefined ? 500 : Number(v['page-size']);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) {
    throw usageError(`--page-size must be a whole number from 1 to 10000, got ${JSON.stringify(v['page-size'])}`);
  }
  const selector = v.selector?.trim();
  return {
    namespaces,
    all,
    selector: selector === '' ? undefined : selector,
    config: v.config,
    kubeconfig: v.kubeconfig,
    output,
    summary: v.summary ?? false,
    showAll: v['show-all'] ?? false,
    name: names.value[0] ?? DEFAULT_LOOKUP_NAME,
    pageSize,
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n', multiple: true },
      'all-namespaces': { type: 'boolean', short: 'A' },
      selector: { type: 'string', short: 'l' },
      config: { type: 'string' },
      kubeconfig: { type: 'string' },
      output: { type: 'string', short: 'o' },
      summary: { type: 'boolean' },
      'show-all': { type: 'boolean' },
      name: { type: 'string' },
      'page-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function usageError(message: string): DnsTunerError {
  return new DnsTunerError('DNS_TUNER_BAD_FLAG', message);
}
