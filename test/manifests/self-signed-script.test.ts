// certs/self-signed.sh, run for real (bash + openssl) in temp folders: what it issues, that re-runs keep what is
// still good and replace what is not, and that a TLS client trusting the caBundle accepts the serving certificate
// for the name the apiserver dials.
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SERVICE_NAME } from '../../lab/paths.ts';

const execFileAsync = promisify(execFile);
const script = fileURLToPath(new URL('../../certs/self-signed.sh', import.meta.url));
const FILES = ['ca.key', 'ca.crt', 'ca-bundle.crt', 'tls.key', 'tls.crt'] as const;
const DAY_MS = 86_400_000;

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-certs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runScript(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await execFileAsync('bash', [script, '--out', dir, ...args], { timeout: 30_000 });
    return { code: 0, stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? String(error) };
  }
}

async function snapshot(): Promise<Record<string, string>> {
  const entries = await Promise.all(FILES.map(async (f) => [f, await readFile(join(dir, f), 'utf8')] as const));
  return Object.fromEntries(entries);
}

function certificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(
    (c) => new X509Certificate(c),
  );
}

const daysLeft = (cert: X509Certificate) => (Date.parse(cert.validTo) - Date.now()) / DAY_MS;

describe('certs/self-signed.sh', () => {
  it('issues a CA and a serving certificate for the webhook Service, keys private', async () => {
    const { code, stderr } = await runScript();
    expect(code, stderr).toBe(0);
    const files = await snapshot();
    const [ca] = certificates(files['ca.crt']!);
    const serving = new X509Certificate(files['tls.crt']!);
    expect(ca!.ca).toBe(true);
    expect(serving.ca).toBe(false);
    expect(serving.checkIssued(ca!)).toBe(true);
    expect(serving.verify(ca!.publicKey)).toBe(true);
    expect(serving.subjectAltName?.split(', ').sort()).toEqual([
      `DNS:${SERVICE_NAME}`,
      `DNS:${SERVICE_NAME}.cluster.local`,
    ]);
    expect(serving.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
    expect(serving.checkPrivateKey(createPrivateKey(files['tls.key']!))).toBe(true);
    expect(files['ca-bundle.crt']).toBe(files['ca.crt']);
    expect(daysLeft(serving)).toBeGreaterThan(360);
    expect(daysLeft(ca!)).toBeGreaterThan(daysLeft(serving));
    for (const key of ['ca.key', 'tls.key']) expect((await stat(join(dir, key))).mode & 0o077, key).toBe(0);
  });

  it('re-running changes nothing while everything is still good', async () => {
    expect((await runScript()).code).toBe(0);
    const before = await snapshot();
    const { code, stderr } = await runScript();
    expect(code).toBe(0);
    expect(stderr).toMatch(/keeping CA/);
    expect(stderr).toMatch(/keeping serving certificate/);
    expect(await snapshot()).toEqual(before);
  });

  it('reissues a serving certificate near expiry with a new key, keeping the CA', async () => {
    expect((await runScript('--cert-days', '20', '--renew-days', '10')).code).toBe(0);
    const before = await snapshot();
    const { code, stderr } = await runScript(); // default: renew when less than 30 days are left
    expect(code).toBe(0);
    expect(stderr).toMatch(/expires within 30 days/);
    const after = await snapshot();
    expect(after['ca.crt']).toBe(before['ca.crt']);
    expect(after['ca.key']).toBe(before['ca.key']);
    expect(after['tls.key']).not.toBe(before['tls.key']);
    expect(daysLeft(new X509Certificate(after['tls.crt']!))).toBeGreaterThan(360);
  });

  it('reissues when the certificate is missing, or does not match its key', async () => {
    expect((await runScript()).code).toBe(0);
    await unlink(join(dir, 'tls.crt'));
    expect((await runScript()).stderr).toMatch(/issuing serving certificate .*missing or not matching/);
    const first = await snapshot();
    await writeFile(join(dir, 'tls.key'), (await readFile(join(dir, 'ca.key'), 'utf8')) as string);
    expect((await runScript()).stderr).toMatch(/issuing serving certificate .*missing or not matching/);
    const second = await snapshot();
    expect(second['ca.crt']).toBe(first['ca.crt']);
    expect(new X509Certificate(second['tls.crt']!).checkPrivateKey(createPrivateKey(second['tls.key']!))).toBe(true);
  });

  it('reissues when the Service name changes', async () => {
    expect((await runScript()).code).toBe(0);
    const { stderr } = await runScript('--namespace', 'dns', '--cluster-domain', 'k8s.example');
    expect(stderr).toMatch(/names differ/);
    const serving = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    expect(serving.subjectAltName).toBe('DNS:dns-tuner.dns.svc, DNS:dns-tuner.dns.svc.k8s.example');
  });

  it('replaces a CA that would not outlive a new certificate, and trusts both CAs while the old one is valid', async () => {
    expect((await runScript('--ca-days', '100', '--cert-days', '50', '--renew-days', '10')).code).toBe(0);
    const before = await snapshot();
    const { code, stderr } = await runScript();
    expect(code).toBe(0);
    expect(stderr).toMatch(/making a new CA/);
    expect(stderr).toMatch(/not signed by the current CA/);
    expect(stderr).toMatch(/CA was replaced/);
    const after = await snapshot();
    expect(after['ca.crt']).not.toBe(before['ca.crt']);
    expect(await readFile(join(dir, 'ca-previous.crt'), 'utf8')).toBe(before['ca.crt']);
    const bundle = certificates(after['ca-bundle.crt']!);
    expect(bundle.map((c) => c.fingerprint256)).toEqual(
      [after['ca.crt']!, before['ca.crt']!].map((p) => new X509Certificate(p).fingerprint256),
    );
    // The old serving certificate (still in running pods until they re-read the Secret) and the new one both
    // verify against the bundle the apiserver gets.
    for (const pem of [before['tls.crt']!, after['tls.crt']!]) {
      const serving = new X509Certificate(pem);
      expect(bundle.some((ca) => serving.checkIssued(ca) && serving.verify(ca.publicKey))).toBe(true);
    }
    // The new serving certificate expires before the new CA.
    expect(daysLeft(bundle[0]!)).toBeGreaterThan(daysLeft(new X509Certificate(after['tls.crt']!)));
  });

  it('rejects bad arguments without writing anything', async () => {
    for (const args of [['--cert-days', '10', '--renew-days', '30'], ['--ca-days', 'x'], ['--bogus']]) {
      const { code, stderr } = await runScript(...args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(/self-signed\.sh|Usage/);
    }
    await expect(stat(join(dir, 'ca.crt'))).rejects.toThrow(/ENOENT/);
  });

  it('a TLS client trusting ca-bundle.crt accepts the server for the Service name, and only for it', async () => {
    expect((await runScript()).code).toBe(0);
    const files = await snapshot();
    const server = createServer({ cert: files['tls.crt'], key: files['tls.key'] }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const handshake = async (servername: string) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: files['ca-bundle.crt'] });
      try {
        await Promise.race([
          once(socket, 'secureConnect'),
          once(socket, 'error').then(([error]) => Promise.reject(error)),
        ]);
        return socket.authorized ? 'authorized' : String(socket.authorizationError);
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? String(error);
      } finally {
        socket.destroy();
      }
    };
    try {
      expect(await handshake(SERVICE_NAME)).toBe('authorized');
      expect(await handshake(`${SERVICE_NAME}.cluster.local`)).toBe('authorized');
      expect(await handshake('other.dns-tuner.svc')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
      await once(server, 'close');
    }
  });
});
