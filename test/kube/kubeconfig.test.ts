/**
 * The kubeconfig reader (src/kube/kubeconfig.ts) and the credentials it applies per request
 * (src/kube/credentials.ts). @kubernetes/client-node is never loaded for the configurations the reader handles itself
 * (importing it costs ~84 MiB of RSS: docs/adr/0012-a-review-costs-little-more-than-reading-it.md), and only on the
 * first request for those it leaves to client-node. The loading order and its error messages are tested in
 * test/namespaces/cluster-source.test.ts; the credentials against a real API server in test/kube/api-client.test.ts.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnNode } from '../../lab/process.ts';
import { needsClientNode } from '../../src/kube/credentials.ts';
import { connectionOf, KubeConfigError, loadKubeConfig, parseKubeConfig } from '../../src/kube/kubeconfig.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  });
}

async function authorize(file: string): Promise<RequestOptions & { headers: Record<string, string> }> {
  const options: RequestOptions = { headers: {} };
  await connectionOf(loadKubeConfig({ kubeconfig: file, env: {} })).authorize(options);
  return options as RequestOptions & { headers: Record<string, string> };
}

describe('loading @kubernetes/client-node', () => {
  async function run(file: string) {
    const script = fileURLToPath(new URL('./client-node-import-child.ts', import.meta.url));
    const child = spawnNode(script, [file], { killAfterMs: 20_000 });
    const { code } = await child.exit;
    expect({ code, stderr: child.stderr() }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(child.stdout()) as Record<string, unknown>;
  }

  it('does not happen to load and use a kubeconfig with a token', async () => {
    const dir = await tempDir();
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig({ server: 'https://lazy.example:6443' }, { token: 't' }));
    expect(await run(file)).toEqual({
      afterImport: false,
      afterLoad: false,
      afterAuthorize: false,
      server: 'https://lazy.example:6443',
      authorization: 'Bearer t',
    });
  });

  it('happens on the first request for an auth-provider plugin, which client-node applies', async () => {
    const dir = await tempDir();
    const file = join(dir, 'kubeconfig');
    const provider = { name: 'oidc', config: { 'id-token': 'header.payload.sig', 'idp-issuer-url': 'https://i' } };
    await writeFile(file, kubeconfig({}, { 'auth-provider': provider }));
    const report = await run(file);
    expect(report).toMatchObject({ afterImport: false, afterLoad: false, afterAuthorize: true });
    // client-node's oidc provider ran: it either set the token or said why not (an id-token that is no JWT).
    expect(report.authorization === 'Bearer header.payload.sig' || typeof report.error === 'string').toBe(true);
  });
});

describe('the kubeconfig reader', () => {
  it('resolves relative paths against the file and keeps absolute ones', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'pki'));
    const file = join(dir, 'kubeconfig');
    await writeFile(
      file,
      kubeconfig(
        { 'certificate-authority': 'pki/ca.crt' },
        { 'client-certificate': '/abs/u.crt', 'client-key': 'u.key' },
      ),
    );
    const kc = loadKubeConfig({ kubeconfig: file, env: {} });
    expect(kc.getCurrentCluster()?.caFile).toBe(join(dir, 'pki/ca.crt'));
    expect(kc.getCurrentUser()).toMatchObject({ certFile: '/abs/u.crt', keyFile: join(dir, 'u.key') });
  });

  it('names the file, the line or the field, and the value of a bad kubeconfig', async () => {
    expect(parseKubeConfig('clusters: [\n  {name: a', '/k')).toEqual({
      ok: false,
      error: expect.stringMatching(/^\/k:\d+:\d+: YAML syntax error: /),
    });
    expect(parseKubeConfig(kubeconfig({ server: '' }, {}), '/k')).toEqual({
      ok: false,
      error: '/k: clusters.0.cluster.server: must not be empty',
    });
    expect(parseKubeConfig(kubeconfig({ 'insecure-skip-tls-verify': 'yes' }, {}), '/k')).toMatchObject({
      ok: false,
      error: expect.stringContaining('clusters.0.cluster.insecure-skip-tls-verify'),
    });
    const dir = await tempDir();
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig({}, { exec: { command: '' } }));
    expect(() => loadKubeConfig({ kubeconfig: file, env: {} })).toThrow(
      new KubeConfigError(`kubeconfig ${file}: users.0.user.exec.command: must not be empty (--kubeconfig)`),
    );
  });

  it('leaves only a proxy and auth-provider plugins to client-node', () => {
    const cluster = { name: 'c', server: 'https://x', skipTLSVerify: false };
    expect(needsClientNode(cluster, { name: 'u', token: 't' })).toBe(false);
    expect(needsClientNode(cluster, null)).toBe(false);
    const sa = { name: 'u', authProvider: { name: 'tokenFile', config: { tokenFile: '/t' } } };
    expect(needsClientNode(cluster, sa)).toBe(false);
    expect(needsClientNode(cluster, { name: 'u', authProvider: { name: 'gcp', config: {} } })).toBe(true);
    expect(needsClientNode({ ...cluster, proxyUrl: 'http://proxy:3128' }, { name: 'u', token: 't' })).toBe(true);
  });
});

describe('credentials per request', () => {
  it('applies the CA, TLS server name, skip-verify, client certificate and key, impersonation and basic auth', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ca.crt'), 'CA-PEM');
    await writeFile(join(dir, 'u.key'), 'KEY-PEM');
    const file = join(dir, 'kubeconfig');
    await writeFile(
      file,
      kubeconfig(
        { 'certificate-authority': 'ca.crt', 'tls-server-name': 'api.internal', 'insecure-skip-tls-verify': true },
        {
          'client-certificate-data': Buffer.from('CERT-PEM').toString('base64'),
          'client-key': 'u.key',
          as: 'someone',
          username: 'admin',
          password: 'secret',
        },
      ),
    );
    const options = await authorize(file);
    expect(options).toMatchObject({
      rejectUnauthorized: false,
      servername: 'api.internal',
      auth: 'admin:secret',
      headers: { 'Impersonate-User': 'someone' },
    });
    expect([String(options.ca), String(options.cert), String(options.key)]).toEqual(['CA-PEM', 'CERT-PEM', 'KEY-PEM']);
    expect(options.headers.Authorization).toBeUndefined();
  });

  it('re-reads a token file once a minute (the kubelet rotates service-account tokens)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const dir = await tempDir();
    const token = join(dir, 'token');
    await writeFile(token, 'first\n');
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig({}, { tokenFile: 'token' }));
    const connection = connectionOf(loadKubeConfig({ kubeconfig: file, env: {} }));
    const header = async () => {
      const options: RequestOptions = { headers: {} };
      await connection.authorize(options);
      return (options.headers as Record<string, string>).Authorization;
    };
    expect(await header()).toBe('Bearer first');
    await writeFile(token, 'second');
    vi.advanceTimersByTime(30_000);
    expect(await header()).toBe('Bearer first');
    vi.advanceTimersByTime(31_000);
    expect(await header()).toBe('Bearer second');
  });

  it('runs an exec plugin with its args and env, and reuses its credential until it expires', async () => {
    const dir = await tempDir();
    const count = join(dir, 'runs');
    const plugin = join(dir, 'plugin.mjs');
    // Prints an ExecCredential whose token says how often it ran, and what it was told.
    await writeFile(
      plugin,
      `#!${process.execPath}
import { appendFileSync, readFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(count)}, 'x');
const runs = readFileSync(${JSON.stringify(count)}, 'utf8').length;
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
const expires = process.argv[2] === 'expired' ? '2000-01-01T00:00:00Z' : '2999-01-01T00:00:00Z';
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
  status: { token: process.env.PREFIX + runs + '-' + info.spec.interactive, expirationTimestamp: expires } }));
`,
    );
    await chmod(plugin, 0o755);
    const exec = (arg: string) => ({
      command: plugin,
      args: [arg],
      env: [{ name: 'PREFIX', value: 'tok-' }],
      apiVersion: 'client.authentication.k8s.io/v1',
    });
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig({}, { exec: exec('valid') }));
    const connection = connectionOf(loadKubeConfig({ kubeconfig: file, env: {} }));
    const header = async (c = connection) => {
      const options: RequestOptions = { headers: {} };
      await c.authorize(options);
      return (options.headers as Record<string, string>).Authorization;
    };
    expect(await Promise.all([header(), header()])).toEqual(['Bearer tok-1-false', 'Bearer tok-1-false']);
    expect(await header()).toBe('Bearer tok-1-false');

    await writeFile(file, kubeconfig({}, { exec: exec('expired') }));
    const expiring = connectionOf(loadKubeConfig({ kubeconfig: file, env: {} }));
    expect(await header(expiring)).toBe('Bearer tok-2-false');
    expect(await header(expiring)).toBe('Bearer tok-3-false');
  });

  it('says which exec plugin failed and why', async () => {
    const dir = await tempDir();
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig({}, { exec: { command: process.execPath, args: ['-e', 'process.exit(3)'] } }));
    await expect(authorize(file)).rejects.toThrow(`exec credential plugin ${process.execPath}: exited with 3`);
    await writeFile(file, kubeconfig({}, { exec: { command: process.execPath, args: ['-e', 'console.log("{}")'] } }));
    await expect(authorize(file)).rejects.toThrow(/not an ExecCredential: status: /);
    await writeFile(file, kubeconfig({}, { exec: { command: join(dir, 'missing') } }));
    await expect(authorize(file)).rejects.toThrow(/exec credential plugin .*missing: spawn .* ENOENT/);
  });
});
