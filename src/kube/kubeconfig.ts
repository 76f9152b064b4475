/**
 * Loading the Kubernetes client configuration, in client-go's order, into a `KubeConfig` of @kubernetes/client-node:
 * the one part of client-node this project uses (file parsing, merging, and the credentials — token file, exec plugin,
 * client certificate, proxy — that `applyToHTTPSOptions` resolves per request).
 *
 * client-node is loaded on the first call, not when this module is imported: importing it costs ~90 MiB of RSS and
 * ~0.3 s (its generated API models), which the offline file source, `dns-tuner explain` and every test that never
 * touches a cluster should not pay (docs/adr/0007-own-list-watch.md). `require()` of an ES module is synchronous on
 * Node 24 (https://nodejs.org/api/modules.html#loading-ecmascript-modules-using-require), so loading stays
 * synchronous and a bad kubeconfig still fails at startup, before anything listens.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type * as ClientNode from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiConnection } from './api-client.ts';

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

let clientNode: typeof ClientNode | undefined;

/** A new, empty KubeConfig; the first call loads @kubernetes/client-node. */
function newKubeConfig(): KubeConfig {
  clientNode ??= createRequire(import.meta.url)('@kubernetes/client-node') as typeof ClientNode;
  return new clientNode.KubeConfig();
}

/**
 * Loads the client configuration in controller-runtime's order
 * (https://github.com/kubernetes-sigs/controller-runtime/blob/main/pkg/client/config/config.go): the `--kubeconfig`
 * flag, then `$KUBECONFIG`, then the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT + token file), then
 * `~/.kube/config`. Unlike `KubeConfig.loadFromDefault`, it never falls back to an unauthenticated localhost:8080.
 * Every variable comes from `opts.env`, so the caller decides which environment counts.
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
  if (!/^https?:\/\//.test(cluster.server ?? '')) {
    throw new KubeConfigError(`kubeconfig: cluster "${cluster.name}" server "${cluster.server}" is not an http(s) URL`);
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // @kubernetes/client-node refuses plain http otherwise; say so now rather than on every request.
    throw new KubeConfigError(
      `kubeconfig: cluster "${cluster.name}" uses ${cluster.server}: plain http needs insecure-skip-tls-verify: true`,
    );
  }
  return kc;
}

/**
 * What the API client needs of a loaded configuration: the current cluster's URL, and the TLS material, proxy agent
 * and credentials of the current user, resolved afresh for every request so rotated service-account tokens and
 * exec-plugin credentials are picked up.
 */
export function connectionOf(kc: KubeConfig): ApiConnection {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('kubeconfig has no current cluster');
  return { server: cluster.server, authorize: (options) => kc.applyToHTTPSOptions(options) };
}

/**
 * The service account's configuration, as client-go's rest.InClusterConfig builds it
 * (https://github.com/kubernetes/client-go/blob/master/rest/config.go): https to the service host and port, the
 * mounted CA, and the token file, re-read as the kubelet rotates it. Not `KubeConfig.loadFromCluster`, which reads
 * process.env itself.
 */
function inCluster(host: string, port: string, prefix: string): KubeConfig {
  const tokenFile = prefix + SERVICE_ACCOUNT_TOKEN;
  if (!existsSync(tokenFile)) {
    throw new KubeConfigError(
      `in-cluster configuration: ${tokenFile} is missing (automountServiceAccountToken: false?)`,
    );
  }
  const kc = newKubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: 'inCluster',
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      caFile: `${prefix}${SERVICE_ACCOUNT}/ca.crt`,
      skipTLSVerify: false,
    },
    { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } },
  );
  return kc;
}

/** Loads a path list with kubectl's merge rule: the first file to set a name (or the current context) wins. */
function loadFiles(list: string, from: string): KubeConfig {
  const files = list.split(delimiter).filter(Boolean);
  const merged = newKubeConfig();
  merged.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: undefined });
  let loaded = 0;
  for (const file of files) {
    const kc = newKubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // kubectl and client-go skip missing files in a KUBECONFIG list; only an explicit path must exist
      // (https://github.com/kubernetes/client-go/blob/master/tools/clientcmd/loader.go, ClientConfigLoadingRules.Load).
      if (code === 'ENOENT' && from === 'KUBECONFIG') continue;
      const why = code === 'ENOENT' ? 'not found' : error instanceof Error ? error.message : String(error);
      throw new KubeConfigError(`kubeconfig ${file} (${from}): ${why}`);
    }
    loaded++;
    const has = (names: Array<{ name: string }>, name: string) => names.some((x) => x.name === name);
    for (const c of kc.getClusters()) if (!has(merged.clusters, c.name)) merged.clusters.push(c);
    for (const u of kc.getUsers()) if (!has(merged.users, u.name)) merged.users.push(u);
    for (const c of kc.getContexts()) if (!has(merged.contexts, c.name)) merged.contexts.push(c);
    if (!merged.currentContext && kc.currentContext) merged.currentContext = kc.currentContext;
  }
  if (loaded === 0) throw new KubeConfigError(`none of the files in ${from} exists: ${list}`);
  return merged;
}
