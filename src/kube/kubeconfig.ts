/**
 * Loading the Kubernetes client configuration in client-go's order, with our own reader: kubeconfig files (YAML,
 * validated with zod at the edge, relative paths resolved against the file, kubectl's merge rule for path lists) and
 * the in-cluster service account. The credentials are applied per request by ./credentials.ts.
 *
 * @kubernetes/client-node is not loaded to read a configuration: importing it costs ~84 MiB of RSS (its generated API
 * models come with its config module; a deep import of the config module alone loads them too), while this is the
 * only part of it the project used. It is still the fallback for the two things this reader does not do itself —
 * an `auth-provider` plugin other than the service account's token file (oidc, azure, gcp: deprecated in client-go)
 * and a `proxy-url` — and then it is loaded on the first request (docs/adr/0012-a-review-costs-little-more-than-reading-it.md).
 *
 * The objects keep client-node's field names (`caFile`, `skipTLSVerify`, `authProvider`…), so a configuration that
 * needs the fallback is handed to it as is, and the in-cluster user is the one client-node's `loadFromCluster` builds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { documentValue, locator, PARSE_OPTIONS } from '../yaml/locate.ts';
import { describeIssues } from '../zod/issues.ts';
import type { ApiConnection } from './api-client.ts';
import { KubeConfig } from './client-config.ts';
import { authorizer } from './credentials.ts';

export { type Cluster, type Context, type ExecConfig, KubeConfig, type User } from './client-config.ts';

/** The Kubernetes client configuration cannot be loaded: a startup error to report as is (no stack needed). */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: a file, or a path list like `$KUBECONFIG` (the first file to define a name wins). */
  kubeconfig?: string | undefined;
  /** Where `KUBECONFIG`, `KUBERNETES_SERVICE_HOST`/`_PORT` and `HOME` are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Prefix of /var/run/secrets/kubernetes.io/serviceaccount, for tests of the in-cluster branch. Default ''. */
  inClusterPathPrefix?: string | undefined;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const SERVICE_ACCOUNT_TOKEN = `${SERVICE_ACCOUNT}/token`;

/**
 * Loads the client configuration in controller-runtime's order
 * (https://github.com/kubernetes-sigs/controller-runtime/blob/main/pkg/client/config/config.go): the `--kubeconfig`
 * flag, then `$KUBECONFIG`, then the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT + token file), then
 * `~/.kube/config`. Unlike client-node's `KubeConfig.loadFromDefault`, it never falls back to an unauthenticated
 * localhost:8080. Every variable comes from `opts.env`, so the caller decides which environment counts.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  const env = opts.env ?? process.env;
  const prefix = opts.inClusterPathPrefix ?? '';
  const home = env.HOME || homedir();
  let kc: KubeConfig;
  if (opts.kubeconfig) {
    kc = loadFiles(opts.kubeconfig, '--kubeconfig');
  } else if (env.KUBECONFIG) {
    kc = loadFiles(env.KUBECONFIG, 'KUBECONFIG');
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    kc = inCluster(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT, prefix);
  } else if (home && existsSync(join(home, '.kube', 'config'))) {
    kc = loadFiles(join(home, '.kube', 'config'), '~/.kube/config');
  } else {
    throw new KubeConfigError(
      'no Kubernetes client configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster',
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(`kubeconfig: current context "${kc.getCurrentContext() ?? ''}" names no known cluster`);
  }
  if (!/^https?:\/\//.test(cluster.server)) {
    throw new KubeConfigError(`kubeconfig: cluster "${cluster.name}" server "${cluster.server}" is not an http(s) URL`);
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // client-go and client-node refuse plain http otherwise; say so now rather than on every request.
    throw new KubeConfigError(
      `kubeconfig: cluster "${cluster.name}" uses ${cluster.server}: plain http needs insecure-skip-tls-verify: true`,
    );
  }
  return kc;
}

/**
 * What the API client needs of a loaded configuration: the current cluster's URL, and the TLS material, credentials
 * (and proxy, through client-node) of the current user, resolved afresh for every request so rotated
 * service-account tokens, certificates and exec-plugin credentials are picked up.
 */
export function connectionOf(kc: KubeConfig): ApiConnection {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('kubeconfig has no current cluster');
  return { server: cluster.server, authorize: authorizer(kc, cluster, kc.getCurrentUser()) };
}

/**
 * The service account's configuration, as client-go's rest.InClusterConfig builds it
 * (https://github.com/kubernetes/client-go/blob/master/rest/config.go): https to the service host and port, the
 * mounted CA, and the token file, re-read as the kubelet rotates it.
 */
function inCluster(host: string, port: string, prefix: string): KubeConfig {
  const tokenFile = prefix + SERVICE_ACCOUNT_TOKEN;
  if (!existsSync(tokenFile)) {
    throw new KubeConfigError(
      `in-cluster configuration: ${tokenFile} is missing (automountServiceAccountToken: false?)`,
    );
  }
  const kc = new KubeConfig();
  kc.clusters = [
    {
      name: 'inCluster',
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: `${prefix}${SERVICE_ACCOUNT}/ca.crt`,
      skipTLSVerify: false,
    },
  ];
  kc.users = [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } }];
  kc.contexts = [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }];
  kc.currentContext = 'inClusterContext';
  return kc;
}

/** Loads a path list with kubectl's merge rule: the first file to set a name (or the current context) wins. */
function loadFiles(list: string, from: string): KubeConfig {
  const files = list.split(delimiter).filter(Boolean);
  const merged = new KubeConfig();
  let loaded = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // kubectl and client-go skip missing files in a KUBECONFIG list; only an explicit path must exist
      // (https://github.com/kubernetes/client-go/blob/master/tools/clientcmd/loader.go, ClientConfigLoadingRules.Load).
      if (code === 'ENOENT' && from === 'KUBECONFIG') continue;
      const why = code === 'ENOENT' ? 'not found' : error instanceof Error ? error.message : String(error);
      throw new KubeConfigError(`kubeconfig ${file} (${from}): ${why}`);
    }
    const parsed = parseKubeConfig(text, file);
    if (!parsed.ok) throw new KubeConfigError(`kubeconfig ${parsed.error} (${from})`);
    const kc = parsed.config;
    loaded++;
    const has = (names: Array<{ name: string }>, name: string) => names.some((x) => x.name === name);
    for (const c of kc.clusters) if (!has(merged.clusters, c.name)) merged.clusters.push(c);
    for (const u of kc.users) if (!has(merged.users, u.name)) merged.users.push(u);
    for (const c of kc.contexts) if (!has(merged.contexts, c.name)) merged.contexts.push(c);
    if (!merged.currentContext && kc.currentContext) merged.currentContext = kc.currentContext;
  }
  if (loaded === 0) throw new KubeConfigError(`none of the files in ${from} exists: ${list}`);
  return merged;
}

const text = z.string();
const name = z.string().min(1, { error: 'must not be empty' });

/** The fields of a kubeconfig (clientcmd/api/v1) this reader uses; anything else is ignored, as kubectl does. */
const kubeConfigSchema = z.object({
  clusters: z
    .array(
      z.object({
        name,
        cluster: z.object({
          server: z.string().min(1, { error: 'must not be empty' }),
          'certificate-authority': text.optional(),
          'certificate-authority-data': text.optional(),
          'insecure-skip-tls-verify': z.boolean().optional(),
          'tls-server-name': text.optional(),
          'proxy-url': text.optional(),
        }),
      }),
    )
    .nullish(),
  users: z
    .array(
      z.object({
        name,
        user: z
          .object({
            token: text.optional(),
            tokenFile: text.optional(),
            'client-certificate': text.optional(),
            'client-certificate-data': text.optional(),
            'client-key': text.optional(),
            'client-key-data': text.optional(),
            username: text.optional(),
            password: text.optional(),
            as: text.optional(),
            exec: z
              .object({
                command: z.string().min(1, { error: 'must not be empty' }),
                args: z.array(text).nullish(),
                env: z.array(z.object({ name: text, value: text })).nullish(),
                apiVersion: text.optional(),
              })
              .nullish(),
            'auth-provider': z.object({ name: text, config: z.record(z.string(), z.unknown()).nullish() }).nullish(),
          })
          .nullish(),
      }),
    )
    .nullish(),
  contexts: z
    .array(
      z.object({
        name,
        context: z.object({ cluster: name, user: text.optional(), namespace: text.optional() }),
      }),
    )
    .nullish(),
  'current-context': text.optional(),
});

/** A path in a kubeconfig is relative to the file (client-go's ResolvePaths). */
function absolute(dir: string, path: string | undefined): string | undefined {
  return path === undefined || path === '' || isAbsolute(path) ? path : join(dir, path);
}

/** Parses one kubeconfig file's text; errors start with the file (and line, for YAML errors). */
export function parseKubeConfig(
  source: string,
  file: string,
): { ok: true; config: KubeConfig } | { ok: false; error: string } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, ...PARSE_OPTIONS });
  const read = documentValue(doc, locator(file, lineCounter));
  if (!read.ok) return read;
  const parsed = kubeConfigSchema.safeParse(read.value ?? {});
  if (!parsed.success) return { ok: false, error: `${file}: ${describeIssues(parsed.error)}` };
  const data = parsed.data;
  const dir = dirname(file);
  const config = new KubeConfig();
  config.clusters = (data.clusters ?? []).map(({ name, cluster }) => ({
    name,
    server: cluster.server.replace(/\/$/, ''),
    caFile: absolute(dir, cluster['certificate-authority']),
    caData: cluster['certificate-authority-data'],
    skipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: cluster['tls-server-name'],
    proxyUrl: cluster['proxy-url'],
  }));
  config.users = (data.users ?? []).map(({ name, user }) => ({
    name,
    token: user?.token,
    tokenFile: absolute(dir, user?.tokenFile),
    certFile: absolute(dir, user?.['client-certificate']),
    certData: user?.['client-certificate-data'],
    keyFile: absolute(dir, user?.['client-key']),
    keyData: user?.['client-key-data'],
    username: user?.username,
    password: user?.password,
    impersonateUser: user?.as,
    exec: user?.exec
      ? {
          command: user.exec.command,
          args: user.exec.args ?? undefined,
          env: user.exec.env ?? undefined,
          apiVersion: user.exec.apiVersion,
        }
      : undefined,
    authProvider: user?.['auth-provider']
      ? { name: user['auth-provider'].name, config: user['auth-provider'].config ?? undefined }
      : undefined,
  }));
  config.contexts = (data.contexts ?? []).map(({ name, context }) => ({
    name,
    cluster: context.cluster,
    user: context.user || undefined,
    namespace: context.namespace || undefined,
  }));
  config.currentContext = data['current-context'] || undefined;
  return { ok: true, config };
}
