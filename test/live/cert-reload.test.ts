/**
 * Live certificate rotation: dns-tuner runs in-process over real HTTPS with its certificate and key in a directory
 * laid out and updated like a mounted Secret (cert-manager renewing it). New connections must get the new certificate,
 * an open keep-alive connection must keep working, a bad pair must be rejected with the current one kept, and /readyz
 * must say no while there is no valid certificate.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, readyz, scrape } from '../../lab/client.ts';
import { eventually } from '../../lab/eventually.ts';
import { EXAMPLE_NAMESPACES } from '../../lab/paths.ts';
import { type Ca, makeCa, makeServingCert, type Pem } from '../../lab/pki.ts';
import { atomicVolume } from '../../lab/volume.ts';
import { type InProcess, postReview, startInProcess } from '../support/live.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

let dir: string;
let ca: Ca;
let first: Pem;
let second: Pem;
let third: Pem;
let expired: Pem;
const running: InProcess[] = [];
const agents: https.Agent[] = [];

const fingerprint = (pem: Pem) => new X509Certificate(pem.cert).fingerprint256;
const notAfterSeconds = (pem: Pem) => new X509Certificate(pem.cert).validToDate.getTime() / 1000;
const secret = (pem: Pem) => ({ 'tls.crt': pem.cert, 'tls.key': pem.key });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-cert-reload-'));
  ca = await makeCa({ commonName: 'cert-reload CA' });
  first = await makeServingCert(ca, { hosts: ['localhost'], days: 30 });
  second = await makeServingCert(ca, { hosts: ['localhost'], days: 60 });
  third = await makeServingCert(ca, { hosts: ['localhost'], days: 90 });
  expired = await makeServingCert(ca, { hosts: ['localhost'], notBefore: new Date(Date.now() - 3 * DAY_MS), days: 1 });
});

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  for (const instance of running.splice(0)) await instance.app.stop(0);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startWith(name: string, files: Record<string, string>) {
  const volume = await atomicVolume(join(dir, name), files);
  const instance = await startInProcess([
    '--namespaces',
    EXAMPLE_NAMESPACES,
    '--tls-cert',
    volume.path('tls.crt'),
    '--tls-key',
    volume.path('tls.key'),
  ]);
  running.push(instance);
  return { volume, instance, port: instance.app.webhookPort, opsPort: instance.app.opsPort };
}

/** The fingerprint a brand-new connection is shown. */
async function servedToNewConnection(port: number): Promise<string> {
  const result = await postReview(port, 'shop', { ca: ca.cert });
  expect(result.status).toBe(200);
  return result.peer.fingerprint256;
}

const reloads = async (opsPort: number, result: 'ok' | 'failed') =>
  metricValue(await scrape(opsPort), 'dns_tuner_certificate_reloads_total', `result="${result}"`);

describe('certificate rotation through a Secret-style ..data swap', () => {
  it('serves the new certificate to new connections while an open keep-alive connection keeps working', async () => {
    const { volume, instance, port, opsPort } = await startWith('rotate', secret(first));
    expect(metricValue(await scrape(opsPort), 'dns_tuner_certificate_expiry_timestamp_seconds')).toBe(
      notAfterSeconds(first),
    );
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(keepAlive);
    const opened = await postReview(port, 'shop', { ca: ca.cert, agent: keepAlive });
    expect(opened).toMatchObject({ status: 200, reusedSocket: false });
    expect(opened.peer.fingerprint256).toBe(fingerprint(first));
    // Idle connections stay open longer than the apiserver keeps them (90 s), so it never reuses one we just closed.
    expect(opened.headers['keep-alive']).toBe('timeout=120');

    await volume.write(secret(second));
    await eventually(async () => expect(await servedToNewConnection(port)).toBe(fingerprint(second)));

    // The connection opened before the swap is still up, still on its certificate, and still answers.
    const reused = await postReview(port, 'shop', { ca: ca.cert, agent: keepAlive });
    expect(reused).toMatchObject({ status: 200, reusedSocket: true });
    expect(reused.peer.fingerprint256).toBe(fingerprint(first));

    const metrics = await scrape(opsPort);
    expect(metricValue(metrics, 'dns_tuner_certificate_expiry_timestamp_seconds')).toBe(notAfterSeconds(second));
    expect(metricValue(metrics, 'dns_tuner_certificate_reloads_total', 'result="ok"')).toBe(1);
    expect(metricValue(metrics, 'dns_tuner_certificate_reloads_total', 'result="failed"')).toBe(0);
    const swapped = instance.logged('serving certificate swapped');
    expect(swapped).toHaveLength(1);
    expect(swapped[0]?.certificate).toMatchObject({ fingerprint256: fingerprint(second) });
    expect((await readyz(opsPort)).status).toBe(200);
  });

  it('rejects a certificate with a key that does not match, and an expired pair, keeping the current one', async () => {
    const { volume, instance, port, opsPort } = await startWith('reject', secret(first));

    await volume.write({ 'tls.crt': second.cert, 'tls.key': third.key });
    await eventually(async () => expect(await reloads(opsPort, 'failed')).toBe(1));
    expect(await servedToNewConnection(port)).toBe(fingerprint(first));
    const rejected = instance.logged('certificate files rejected, the current certificate stays');
    expect(rejected[0]?.error).toMatch(/tls\.key does not belong to certificate .*tls\.crt/);

    await volume.write(secret(expired));
    await eventually(async () => expect(await reloads(opsPort, 'failed')).toBe(2));
    expect(instance.logged('certificate files rejected, the current certificate stays')[1]?.error).toMatch(
      /expired at/,
    );
    expect(await servedToNewConnection(port)).toBe(fingerprint(first));
    expect((await readyz(opsPort)).status).toBe(200);
    expect(metricValue(await scrape(opsPort), 'dns_tuner_certificate_expiry_timestamp_seconds')).toBe(
      notAfterSeconds(first),
    );

    // The next good pair is taken.
    await volume.write(secret(third));
    await eventually(async () => expect(await servedToNewConnection(port)).toBe(fingerprint(third)));
    expect(await reloads(opsPort, 'ok')).toBe(1);
  });

  it('is not ready while the certificate is missing at start, and ready once it appears', async () => {
    const { volume, port, opsPort } = await startWith('missing', { 'ca.crt': ca.cert });
    const before = await readyz(opsPort);
    expect(before.status).toBe(503);
    expect(before.failing).toEqual([
      { name: 'certificate', ok: false, reason: `TLS certificate ${volume.path('tls.crt')} (--tls-cert): not found` },
    ]);
    // No certificate: the handshake fails, nothing is served in clear.
    await expect(postReview(port, 'shop', { ca: ca.cert })).rejects.toThrow(/handshake failure|alert/i);
    expect(metricValue(await scrape(opsPort), 'dns_tuner_certificate_expiry_timestamp_seconds')).toBe(0);

    await volume.write(secret(first));
    await eventually(async () => expect((await readyz(opsPort)).status).toBe(200));
    expect(await servedToNewConnection(port)).toBe(fingerprint(first));
    expect(metricValue(await scrape(opsPort), 'dns_tuner_certificate_expiry_timestamp_seconds')).toBe(
      notAfterSeconds(first),
    );
  });

  it('serves an expired certificate found at start but is not ready until it is renewed', async () => {
    const { volume, port, opsPort } = await startWith('expired', secret(expired));
    const before = await readyz(opsPort);
    expect(before.status).toBe(503);
    expect(before.failing.map((f) => f.name)).toEqual(['certificate']);
    expect(before.failing[0]?.reason).toMatch(/^serving certificate expired at /);
    const insecure = await postReview(port, 'shop', { ca: ca.cert, insecure: true });
    expect(insecure.peer.fingerprint256).toBe(fingerprint(expired));
    // A client that checks (as the apiserver does) refuses it.
    await expect(postReview(port, 'shop', { ca: ca.cert })).rejects.toThrow(/expired/i);
    expect(metricValue(await scrape(opsPort), 'dns_tuner_certificate_expiry_timestamp_seconds')).toBe(
      notAfterSeconds(expired),
    );

    await volume.write(secret(second));
    await eventually(async () => expect((await readyz(opsPort)).status).toBe(200));
    expect(await servedToNewConnection(port)).toBe(fingerprint(second));
  });
});
