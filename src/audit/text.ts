/**
 * The audit report for people (`dns-tuner audit`'s default output): what to roll first — each workload a rollout
 * changes, with its DNS now and after, the query cost of one lookup and the command — then what is fine, and what
 * could not be read. Pure: the JSON report in, text out.
 */
import type { LookupSide } from './cost.ts';
import { describeDns } from './dns.ts';
import type { AuditReport, AuditWorkload } from './report.ts';
import { AUDIT_STATES, NEEDS_ROLLOUT } from './tally.ts';

const ARROW = '→';

export interface TextOptions {
  /** List tuned and skipped workloads too, not only those a rollout changes. */
  showAll: boolean;
}

export function formatAuditText(report: AuditReport, options: TextOptions): string {
  const out: string[] = [headline(report), totals(report), ''];
  if (report.workloads === null) {
    for (const line of namespaceTable(report)) out.push(line);
    out.push('');
  } else {
    const listed = report.workloads.filter((w) => options.showAll || NEEDS_ROLLOUT.has(w.state));
    if (listed.length > 0) {
      // One line at a time: a spread of thousands of lines into push() overflows the stack.
      for (const line of workloadTable(listed, report.lookupName)) out.push(line);
      out.push('');
    }
    const affected = report.summary.states.untuned.pods + report.summary.states.stale.pods;
    if (affected === 0) out.push(report.summary.pods === 0 ? 'No running pods in scope.' : 'Nothing to roll.');
    if (listed.length < report.workloads.length) {
      const s = report.summary.states;
      const hidden = [count(s.tuned.workloads, 'tuned workload'), count(s.skipped.workloads, 'skipped workload')];
      out.push(`Not listed: ${hidden.filter((h) => !h.startsWith('0 ')).join(' and ')} (--show-all lists them).`);
    }
  }
  const reasons = Object.entries(report.summary.skipReasons);
  if (reasons.length > 0) {
    out.push(
      `Skipped pods by reason: ${reasons.map(([reason, n]) => `${reason} ${n.toLocaleString('en-US')}`).join(', ')}.`,
    );
  }
  if (report.problems.length > 0) {
    out.push('', 'Not audited — the counts above leave these out:');
    for (const p of report.problems) {
      const where = p.namespace === null ? 'all namespaces' : `namespace ${p.namespace}`;
      out.push(`  ${p.resource} in ${where}: ${p.message}`);
    }
    if (report.problemsOmitted > 0) out.push(`  …and ${report.problemsOmitted} more`);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function headline(report: AuditReport): string {
  const scope = report.scope;
  const where = scope.allNamespaces
    ? 'all namespaces'
    : `namespace${scope.namespaces.length === 1 ? '' : 's'} ${scope.namespaces.join(', ')}`;
  const selector = scope.selector === null ? '' : `, pods matching ${scope.selector}`;
  return `dns-tuner audit: ${where}${selector} (config: ${report.config})`;
}

function totals(report: AuditReport): string {
  const { pods, workloads, states } = report.summary;
  const parts = AUDIT_STATES.map(
    (state) => `${states[state].workloads} ${state} (${count(states[state].pods, 'pod')})`,
  );
  return `${count(pods, 'running pod')} in ${count(workloads, 'workload')}: ${parts.join(', ')}`;
}

function workloadTable(workloads: readonly AuditWorkload[], lookupName: string): string[] {
  const header = ['STATE', 'NAMESPACE', 'WORKLOAD', 'PODS', `${lookupName}: GLIBC`, 'MUSL'];
  const rows = workloads.map((w) => {
    const cost = w.queryCost;
    const pods = NEEDS_ROLLOUT.has(w.state) ? `${w.pods.affected}/${w.pods.total}` : `${w.pods.total}`;
    const last = cost === null ? [why(w), ''] : [side(cost.glibc), side(cost.musl)];
    return [w.state, w.namespace, w.workload, pods, ...last];
  });
  const widths = columnWidths(header, rows);
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header)];
  const indent = ' '.repeat(widths[0]! + 2);
  for (const [i, w] of workloads.entries()) {
    out.push(line(rows[i]!));
    if (!NEEDS_ROLLOUT.has(w.state)) continue;
    if (w.now !== null && w.afterRollout !== null) {
      out.push(`${indent}dns:  ${describeDns(w.now)}  ${ARROW}  ${describeDns(w.afterRollout)}`);
    }
    if (w.podsWithOtherDns > 0)
      out.push(`${indent}      (${count(w.podsWithOtherDns, 'pod')} of ${w.pods.total} with other DNS)`);
    if (w.tunedAs !== null) out.push(`${indent}was:  tuned as "${w.tunedAs}"`);
    if (w.rollout.command !== null) out.push(`${indent}roll: ${w.rollout.command}`);
    for (const note of notes(w)) out.push(`${indent}note: ${note}`);
  }
  return out;
}

function notes(w: AuditWorkload): string[] {
  const out: string[] = [];
  const tunes = w.review.decision === 'mutated' || w.review.decision === 'unchanged';
  if (w.state === 'stale' && !tunes) {
    out.push(`the webhook no longer tunes these pods (${w.review.reason}): a rollout takes the tuning back`);
  }
  if (w.rollout.note !== null) out.push(w.rollout.note);
  for (const note of w.notes) out.push(note);
  return out;
}

/** The last column of a workload with no cost to show: why it is fine, or why nothing is modelled. */
function why(w: AuditWorkload): string {
  if (w.state === 'tuned') return `policy ${w.review.policy ?? '?'}`;
  if (w.state === 'skipped') return w.review.reason;
  return '(query cost not modelled: node resolver)';
}

function side(cost: { now: LookupSide; afterRollout: LookupSide }): string {
  const { now, afterRollout: after } = cost;
  let text = `${now.queries}${ARROW}${after.queries}`;
  if (
    now.viaKubeDns !== null &&
    after.viaKubeDns !== null &&
    (now.viaKubeDns !== now.queries || after.viaKubeDns !== after.queries)
  ) {
    text += ` (kube-dns ${now.viaKubeDns}${ARROW}${after.viaKubeDns})`;
  }
  if (now.resolves && !after.resolves) text += ' FAILS';
  return text;
}

function namespaceTable(report: AuditReport): string[] {
  const header = ['NAMESPACE', 'POLICY', 'PODS', ...AUDIT_STATES.map((s) => s.toUpperCase())];
  const rows = report.namespaces.map((ns) => [
    ns.name,
    ns.policy ?? '-',
    String(ns.pods),
    ...AUDIT_STATES.map((s) => String(ns[s])),
  ]);
  const widths = columnWidths(header, rows);
  // Names left, numbers right.
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The widest cell of each column (a loop: a spread of thousands of rows into Math.max overflows the stack). */
function columnWidths(header: readonly string[], rows: ReadonlyArray<readonly string[]>): number[] {
  const widths = header.map((h) => h.length);
  for (const row of rows) for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return widths;
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}
