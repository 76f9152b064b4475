/** `npm start`'s certificate step: creates dev certificates once, keeps them (and anyone else's), reissues expired ones. */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCa, makeServingCert } from '../../lab/pki.ts';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/dev-certs.ts', import.meta.url).pathname;
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function devCerts(dir: string): Promise<string> {
  const { stderr } = await run(process.execPath, [SCRIPT, dir]);
  return stderr;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dev-certs-'));
  dirs.push(dir);
  return dir;
}

const cert = async (dir: string, name: string) => new X509Certificate(await readFile(join(dir, name)));

describe('scripts/dev-certs.ts', () => {
  it('creates a CA and a serving certificate for localhost and the service name, then leaves them alone', async () => {
    const dir = await tempDir();
    expect(await devCerts(dir)).toContain('wrote');
    const serving = await cert(dir, 'tls.crt');
    expect(serving.checkIssued(await cert(dir, 'ca.crt'))).toBe(true);
    expect(serving.checkHost('localhost')).toBe('localhost');
    expect(serving.checkHost('dns-tuner.dns-tuner.svc')).toBe('dns-tuner.dns-tuner.svc');
    expect(await devCerts(dir)).toContain('leaving them alone');
    expect((await cert(dir, 'tls.crt')).fingerprint256).toBe(serving.fingerprint256);
  });

  it('reissues its own expired certificate but never touches a certificate from elsewhere', async () => {
    const dir = await tempDir();
    const ca = await makeCa();
    const expired = await makeServingCert(ca, {
      hosts: ['localhost'],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      days: 2,
    });
    await writeFile(join(dir, 'ca.crt'), ca.cert);
    await writeFile(join(dir, 'ca.key'), ca.key);
    await writeFile(join(dir, 'tls.crt'), expired.cert);
    await writeFile(join(dir, 'tls.key'), expired.key);
    expect(await devCerts(dir)).toContain('wrote');
    expect((await cert(dir, 'tls.crt')).validToDate.getTime()).toBeGreaterThan(Date.now());

    const other = await makeCa({ commonName: 'someone else' });
    const theirs = await makeServingCert(other, {
      hosts: ['localhost'],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      days: 2,
    });
    await writeFile(join(dir, 'tls.crt'), theirs.cert);
    await writeFile(join(dir, 'tls.key'), theirs.key);
    expect(await devCerts(dir)).toContain('leaving them alone');
    expect(await readFile(join(dir, 'tls.crt'), 'utf8')).toBe(theirs.cert);
  });
});
