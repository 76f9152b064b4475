/**
 * How every zod failure at our edges is told: `path: message` per issue (the field, then what is wrong with it),
 * `unknown field(s) a, b` for keys a strict schema refuses, joined with `; `. Reviews, pods, the what-if wrapper,
 * namespace files, API objects and the config file all speak this way.
 */
import type { z } from 'zod';

export interface IssueFormat {
  /** How an issue about the whole value is labelled, e.g. `(body)`; default `(root)`; '' for no label. */
  root?: string | undefined;
  /** Only the first issue (where one reason is enough, as in a warning). */
  first?: boolean | undefined;
}

/** The path of an issue as written in messages (`spec.dnsConfig.nameservers.0`), or the root label. */
export function issuePath(issue: z.core.$ZodIssue, root = '(root)'): string {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  return path.length > 0 ? path.join('.') : root;
}

export function issueMessage(issue: z.core.$ZodIssue): string {
  return issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
}

export function describeIssues(error: z.ZodError, format: IssueFormat = {}): string {
  const issues = format.first ? error.issues.slice(0, 1) : error.issues;
  return issues
    .map((issue) => {
      const path = issuePath(issue, format.root);
      return path === '' ? issueMessage(issue) : `${path}: ${issueMessage(issue)}`;
    })
    .join('; ');
}
