/**
 * The credentials of a loaded configuration (./kubeconfig.ts), applied to each request to the API server, as
 * client-go applies them: the cluster's CA, TLS server name and insecure-skip-tls-verify; the user's client
 * certificate and key (files re-read per request, so a rotated certificate is picked up), bearer token, token file
 * (re-read every minute: client-go's cached file token source — the kubelet rotates service-account tokens), exec
 * plugin (its ExecCredential cached until its expirationTimestamp:
 * https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins), basic auth
 * and impersonation.
 *
 * An `auth-provider` plugin other than a token file, and a `proxy-url`, are left to @kubernetes/client-node, loaded on
 * the first request that needs it (it costs ~84 MiB of RSS, which no other configuration pays).
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { createRequire } from 'node:module';
import type * as ClientNode from '@kubernetes/client-node';
import { z } from 'zod';
import { describeIssues } from '../zod/issues.ts';
import type { Cluster, ExecConfig, KubeConfig, User } from './client-config.ts';
import { http, https } from './node-http.ts';

export type Authorize = (options: HttpsRequestOptions) => Promise<void>;

/** client-go re-reads a token file once a minute (transport.NewCachedFileTokenSource). */
const TOKEN_FILE_TTL_MS = 60_000;

/** The token file of the user: kubeconfig's `tokenFile`, or the in-cluster service account's (an auth provider). */
function tokenFileOf(user: User | null): string | undefined {
  const fromProvider = user?.authProvider?.config?.tokenFile;
  return user?.tokenFile ?? (typeof fromProvider === 'string' ? fromProvider : undefined);
}

/** What this module cannot do itself: a proxy, or an auth-provider plugin (oidc, azure, gcp…) other than a token file. */
export function needsClientNode(cluster: Cluster, user: User | null): boolean {
  if (cluster.proxyUrl) return true;
  return user?.authProvider !== undefined && tokenFileOf(user) === undefined;
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

/** A token file's content, trimmed, re-read once `ttlMs` have passed since the last read. */
function cachedTokenFile(path: string, ttlMs: number): () => string {
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (Date.now() - readAt > ttlMs) {
      token = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

const execCredentialSchema = z.object({
  status: z.object({
    token: z.string().optional(),
    clientCertificateData: z.string().optional(),
    clientKeyData: z.string().optional(),
    expirationTimestamp: z.string().optional(),
  }),
});
type ExecStatus = z.infer<typeof execCredentialSchema>['status'];

/** Runs the plugin and reads its ExecCredential from stdout; rejects naming the command and what went wrong. */
function runPlugin(exec: ExecConfig): Promise<ExecStatus> {
  const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // What client-go tells a plugin about the call (non-interactive: no terminal to prompt on).
    KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } }),
  };
  for (const { name, value } of exec.env ?? []) env[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(exec.command, exec.args ?? [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const fail = (why: string) => reject(new Error(`exec credential plugin ${exec.command}: ${why}`));
    child.on('error', (error) => fail(error.message));
    child.on('close', (code) => {
      if (code !== 0) return fail(`exited with ${code}: ${stderr.trim().slice(0, 500)}`);
      let value: unknown;
      try {
        value = JSON.parse(stdout);
      } catch (error) {
        return fail(`printed no JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      const parsed = execCredentialSchema.safeParse(value);
      if (!parsed.success) return fail(`not an ExecCredential: ${describeIssues(parsed.error)}`);
      resolve(parsed.data.status);
    });
  });
}

/** The plugin's credential, reused until it expires (one run at a time, however many requests wait for it). */
function execCredentials(exec: ExecConfig): () => Promise<ExecStatus> {
  let cached: { status: ExecStatus; expires: number } | undefined;
  let running: Promise<ExecStatus> | undefined;
  return async () => {
    if (cached && cached.expires > Date.now()) return cached.status;
    running ??= runPlugin(exec)
      .then((status) => {
        const expires = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.POSITIVE_INFINITY;
        cached = { status, expires: Number.isNaN(expires) ? Number.POSITIVE_INFINITY : expires };
        return status;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}

/** client-node's KubeConfig holding the same configuration (its field names are ours), loaded on first use. */
function clientNodeAuthorizer(kc: KubeConfig): Authorize {
  let loaded: ClientNode.KubeConfig | undefined;
  return async (options) => {
    if (loaded === undefined) {
      const clientNode = createRequire(import.meta.url)('@kubernetes/client-node') as typeof ClientNode;
      loaded = new clientNode.KubeConfig();
      loaded.loadFromOptions({
        clusters: kc.clusters,
        users: kc.users,
        contexts: kc.contexts,
        currentContext: kc.currentContext,
      });
    }
    await loaded.applyToHTTPSOptions(options);
  };
}

/**
 * Applies `cluster`'s TLS settings and `user`'s credentials to one request's options. One agent per connection
 * (http for a plain-http cluster), as client-node keeps one per cluster and user.
 */
export function authorizer(kc: KubeConfig, cluster: Cluster, user: User | null): Authorize {
  if (needsClientNode(cluster, user)) return clientNodeAuthorizer(kc);
  const agent = cluster.server.startsWith('http:') ? new http.Agent() : new https.Agent();
  const tokenFile = tokenFileOf(user);
  const fileToken = tokenFile === undefined ? undefined : cachedTokenFile(tokenFile, TOKEN_FILE_TTL_MS);
  const exec = user?.exec ? execCredentials(user.exec) : undefined;
  return async (options) => {
    options.agent = agent;
    if (cluster.skipTLSVerify) options.rejectUnauthorized = false;
    if (cluster.tlsServerName) options.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster.caFile, cluster.caData);
    if (ca) options.ca = ca;
    const cert = fileOrData(user?.certFile, user?.certData);
    if (cert) options.cert = cert;
    const key = fileOrData(user?.keyFile, user?.keyData);
    if (key) options.key = key;
    options.headers ??= {};
    const headers = options.headers as OutgoingHttpHeaders;
    if (user?.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    if (fileToken) headers.Authorization = `Bearer ${fileToken()}`;
    if (exec) {
      const status = await exec();
      if (status.clientCertificateData) options.cert = status.clientCertificateData;
      if (status.clientKeyData) options.key = status.clientKeyData;
      if (status.token) headers.Authorization = `Bearer ${status.token}`;
    }
    // A token written in the kubeconfig wins, as in client-node.
    if (user?.token) headers.Authorization = `Bearer ${user.token}`;
    if (user?.username) options.auth = `${user.username}:${user.password ?? ''}`;
  };
}
