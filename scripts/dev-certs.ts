/**
 * Creates development certificates for `npm start` when certs/tls.crt or certs/tls.key is absent:
 * a dev CA (certs/ca.crt, certs/ca.key) and a serving certificate signed by it for localhost and the in-cluster
 * service names. Existing files are left alone, so a certificate you put there yourself is never overwritten — except
 * our own dev certificate once it has expired (or expires within a day), which is reissued.
 *
 *   npx node scripts/dev-certs.ts [DIR]     (DIR defaults to certs/ beside this script's parent)
 */
import { X509Certificate } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_HOSTS, makeCa, makeServingCert } from '../lab/pki.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = resolve(process.argv[2] ?? join(root, 'certs'));
const file = (name: string) => join(dir, name);
const shown = relative(process.cwd(), dir).startsWith('..') ? dir : relative(process.cwd(), dir) || '.';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Our dev serving certificate (issued by certs/ca.crt) that has expired or expires within a day. */
async function staleDevCertificate(): Promise<boolean> {
  if (!(await exists(file('ca.crt')))) return false;
  try {
    const serving = new X509Certificate(await readFile(file('tls.crt')));
    const ca = new X509Certificate(await readFile(file('ca.crt')));
    return serving.checkIssued(ca) && serving.validToDate.getTime() < Date.now() + 24 * 3600 * 1000;
  } catch {
    return false;
  }
}

const present = (await exists(file('tls.crt'))) && (await exists(file('tls.key')));
if (present && !(await staleDevCertificate())) {
  console.error(`dev-certs: ${shown}/tls.crt and tls.key exist; leaving them alone`);
} else {
  await mkdir(dir, { recursive: true });
  const ca = await makeCa();
  const serving = await makeServingCert(ca, { hosts: DEV_HOSTS });
  // Keys are written owner-only: even dev keys should not be world-readable.
  await writeFile(file('ca.crt'), ca.cert);
  await writeFile(file('ca.key'), ca.key, { mode: 0o600 });
  await writeFile(file('tls.crt'), serving.cert);
  await writeFile(file('tls.key'), serving.key, { mode: 0o600 });
  console.error(`dev-certs: wrote ${shown}/{ca.crt,ca.key,tls.crt,tls.key} for ${DEV_HOSTS.join(', ')}`);
}
