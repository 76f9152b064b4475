/**
 * Reading the cluster for `dns-tuner audit`, through the project's API client (../kube/api-client.ts): paged lists
 * (`limit`/`continue`, one page held at a time), GETs, and what each failure means for the audit.
 *
 * Scope: with -A every list is cluster-wide, one request sequence per resource. A cluster-wide list needs the
 * permission in every namespace, so one namespace the user may not read makes it 403; the audit then lists namespace
 * by namespace, and only the forbidden ones are reported as not audited.
 */
import type { NamespaceInfo } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { type ApiClient, ApiError, type ListOptions } from '../kube/api-client.ts';
import { projectNamespace } from '../namespaces/cluster-source.ts';
import type { AuditProblem } from './tally.ts';

/** The resources the audit reads, and where the API serves them. */
export const AUDIT_RESOURCES = {
  namespaces: { prefix: '/api/v1', kind: 'Namespace' },
  pods: { prefix: '/api/v1', kind: 'Pod' },
  deployments: { prefix: '/apis/apps/v1', kind: 'Deployment' },
  statefulsets: { prefix: '/apis/apps/v1', kind: 'StatefulSet' },
  daemonsets: { prefix: '/apis/apps/v1', kind: 'DaemonSet' },
  replicasets: { prefix: '/apis/apps/v1', kind: 'ReplicaSet' },
  jobs: { prefix: '/apis/batch/v1', kind: 'Job' },
  cronjobs: { prefix: '/apis/batch/v1', kind: 'CronJob' },
} as const;

export type AuditResource = keyof typeof AUDIT_RESOURCES;

/** The resource of each kind the audit reads owners of. */
export const RESOURCE_OF_KIND: Readonly<Record<string, Exclude<AuditResource, 'namespaces' | 'pods'>>> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets',
  Job: 'jobs',
  CronJob: 'cronjobs',
};

export function collectionPath(resource: AuditResource, namespace?: string): string {
  const { prefix } = AUDIT_RESOURCES[resource];
  return namespace === undefined
    ? `${prefix}/${resource}`
    : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

export function objectPath(resource: AuditResource, namespace: string, name: string): string {
  return `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
}

/** Which namespaces to read: all of them (-A), or those named (-n). */
export type AuditScopeRequest = { all: true } | { all: false; namespaces: readonly string[] };

export interface NamespacesRead {
  /** The namespaces to audit, in the order given (or the API's). */
  namespaces: NamespaceInfo[];
  /** Named namespaces that could not be read (403): not audited. */
  problems: AuditProblem[];
}

/**
 * The namespaces in scope, with what the review needs of them. A named namespace that does not exist is bad input
 * (exit 2); one the user may not read is reported and left out. Without the namespaces nothing can be reviewed, so
 * any other failure ends the audit.
 */
export async function readNamespaces(
  api: ApiClient,
  scope: AuditScopeRequest,
  server: string,
): Promise<NamespacesRead> {
  const namespaces: NamespaceInfo[] = [];
  const problems: AuditProblem[] = [];
  if (scope.all) {
    try {
      for await (const page of api.list(collectionPath('namespaces'), { metadataOnly: true })) {
        if (page.first) namespaces.length = 0;
        for (const item of page.items) namespaces.push(project(item));
      }
    } catch (error) {
      throw fatal(error, 'listing namespaces', server);
    }
    return { namespaces, problems };
  }
  for (const name of scope.namespaces) {
    let got: Awaited<ReturnType<ApiClient['get']>>;
    try {
      got = await api.get(`${collectionPath('namespaces')}/${encodeURIComponent(name)}`, { metadataOnly: true });
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        problems.push({ resource: 'namespaces', namespace: name, status: 403, message: error.message });
        continue;
      }
      throw fatal(error, `reading namespace ${name}`, server);
    }
    if (!got.found) throw new DnsTunerError('DNS_TUNER_AUDIT_UNKNOWN_NAMESPACE', JSON.stringify(name));
    namespaces.push(project(got.object));
  }
  return { namespaces, problems };
}

function project(object: unknown): NamespaceInfo {
  try {
    return projectNamespace(object);
  } catch (error) {
    throw new Error(`unexpected namespace in the API's answer: ${(error as Error).message}`);
  }
}

/** A failure that ends the audit: forbidden, or the API not answering. */
export function fatal(error: unknown, what: string, server: string): Error {
  if (error instanceof DnsTunerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.status === 403)
    return new DnsTunerError('DNS_TUNER_AUDIT_FORBIDDEN', what, message);
  if (error instanceof ApiError && error.status === 400)
    return new DnsTunerError('DNS_TUNER_AUDIT_REFUSED', what, message);
  return new DnsTunerError('DNS_TUNER_AUDIT_API_FAILED', server, `${what}: ${message}`);
}

export interface ScopeListOptions
  extends Pick<ListOptions, 'metadataOnly' | 'labelSelector' | 'fieldSelector' | 'pageSize'> {
  /** -A: try one cluster-wide list first. */
  all: boolean;
  /** The namespaces to list one by one (every namespace with -A, when the cluster-wide list is forbidden). */
  namespaces: readonly string[];
  onProblem(problem: AuditProblem): void;
}

/**
 * The items of `resource` in scope, a page at a time. A failure in one namespace is reported (onProblem) and the
 * others are still listed; only a refused request (400: a bad label selector) throws, since it is the user's input.
 */
export async function* listInScope(
  api: ApiClient,
  resource: AuditResource,
  options: ScopeListOptions,
): AsyncGenerator<unknown[], void, undefined> {
  const { all, namespaces, onProblem, ...list } = options;
  if (all) {
    let pages = 0;
    try {
      for await (const page of api.list(collectionPath(resource), list)) {
        pages++;
        yield page.items;
      }
      return;
    } catch (error) {
      refusedThrows(error, resource);
      // A denial in one namespace forbids the cluster-wide list: read the namespaces one by one instead.
      if (!(pages === 0 && error instanceof ApiError && error.status === 403)) {
        onProblem(problemOf(resource, undefined, error));
        return;
      }
    }
  }
  for (const namespace of namespaces) {
    try {
      for await (const page of api.list(collectionPath(resource, namespace), list)) yield page.items;
    } catch (error) {
      refusedThrows(error, resource);
      onProblem(problemOf(resource, namespace, error));
    }
  }
}

function refusedThrows(error: unknown, resource: AuditResource): void {
  if (error instanceof ApiError && error.status === 400) {
    throw new DnsTunerError('DNS_TUNER_AUDIT_REFUSED', `the list of ${resource}`, error.message);
  }
}

export function problemOf(resource: string, namespace: string | undefined, error: unknown): AuditProblem {
  const message = error instanceof Error ? error.message : String(error);
  return { resource, namespace, status: error instanceof ApiError ? error.status : undefined, message };
}

/** One object by name: the object, `not-found`, or the failure. */
export type ObjectRead = { ok: true; object: unknown } | { ok: false; status: number | undefined; error: string };

export async function readObject(
  api: ApiClient,
  resource: AuditResource,
  namespace: string,
  name: string,
): Promise<ObjectRead> {
  try {
    const got = await api.get(objectPath(resource, namespace, name));
    return got.found ? { ok: true, object: got.object } : { ok: false, status: 404, error: 'not found' };
  } catch (error) {
    return { ok: false, status: error instanceof ApiError ? error.status : undefined, error: errorText(error) };
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
