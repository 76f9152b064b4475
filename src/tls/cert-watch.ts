/**
 * The serving certificate, kept current the way cert-manager's consumers keep theirs (controller-runtime's
 * certwatcher: https://github.com/kubernetes-sigs/controller-runtime/blob/main/pkg/certwatcher/certwatcher.go):
 * the certificate and key files (a mounted Secret, renewed by cert-manager well before expiry) are re-read when they
 * change, the new pair is validated — it parses, the key belongs to the certificate, it has not expired — and only
 * then installed into the running server (`setSecureContext`: new handshakes get it, open connections keep theirs).
 * A bad pair is rejected and the old one stays.
 *
 * No logger, no metrics: everything observable goes through `onReload` and `current()`.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { describeReadError, readSnapshot, type Snapshot, watchFiles } from '../watch/files.ts';

export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

export interface CertificateInfo {
  subject: string;
  subjectAltName: string | undefined;
  serialNumber: string;
  /** SHA-256 fingerprint, colon-separated hex (as `openssl x509 -fingerprint -sha256` prints it). */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
}

export type PairCheck =
  | { ok: true; pair: CertificatePair; certificate: CertificateInfo }
  | {
      ok: false;
      error: string;
      certificate?: CertificateInfo | undefined;
      /** Set when the pair is fine but expired: something to serve rather than nothing at start. */
      expiredPair?: CertificatePair | undefined;
    };

export interface CertificatePaths {
  certPath: string;
  keyPath: string;
}

const flagOf = { cert: '--tls-cert', key: '--tls-key' } as const;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Validates a certificate chain (leaf first) and its key. An expired pair fails; `contextOptions` turns the pair
 * into what the server will get, so OpenSSL gets the last word too.
 */
function checkPair(
  snapshot: Snapshot,
  paths: CertificatePaths,
  contextOptions: (pair: CertificatePair) => SecureContextOptions,
  now: number,
): PairCheck {
  const [certFile, keyFile] = snapshot;
  const missing = (what: 'cert' | 'key', path: string, error: string | undefined) =>
    `TLS ${what === 'cert' ? 'certificate' : 'key'} ${path} (${flagOf[what]}): ${describeReadError(error)}`;
  if (!certFile?.data) return { ok: false, error: missing('cert', paths.certPath, certFile?.error) };
  if (!keyFile?.data) return { ok: false, error: missing('key', paths.keyPath, keyFile?.error) };
  const pair = { cert: certFile.data, key: keyFile.data };

  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pair.cert);
  } catch (error) {
    return { ok: false, error: `TLS certificate ${paths.certPath}: not a PEM certificate: ${message(error)}` };
  }
  const certificate: CertificateInfo = {
    subject: x509.subject,
    subjectAltName: x509.subjectAltName,
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
  };
  const fail = (error: string): PairCheck => ({ ok: false, error, certificate });
  try {
    if (!x509.checkPrivateKey(createPrivateKey(pair.key))) {
      return fail(`TLS key ${paths.keyPath} does not belong to certificate ${paths.certPath}`);
    }
  } catch (error) {
    return fail(`TLS key ${paths.keyPath}: not a usable private key: ${message(error)}`);
  }
  try {
    createSecureContext(contextOptions(pair));
  } catch (error) {
    return fail(`TLS certificate ${paths.certPath} / key ${paths.keyPath}: ${message(error)}`);
  }
  if (certificate.notAfter.getTime() <= now) {
    const error = `TLS certificate ${paths.certPath} expired at ${certificate.notAfter.toISOString()}`;
    return { ok: false, error, certificate, expiredPair: pair };
  }
  return { ok: true, pair, certificate };
}

/** The pair read at start, before the server exists. */
export interface InitialCertificate {
  snapshot: Snapshot;
  check: PairCheck;
}

export async function readCertificate(
  paths: CertificatePaths,
  contextOptions: (pair: CertificatePair) => SecureContextOptions,
): Promise<InitialCertificate> {
  const snapshot = await readSnapshot([paths.certPath, paths.keyPath]);
  return { snapshot, check: checkPair(snapshot, paths, contextOptions, Date.now()) };
}

/** What to start the server with: the valid pair, else an expired but otherwise good one, else nothing. */
export function servedPair(initial: InitialCertificate): CertificatePair | undefined {
  return initial.check.ok ? initial.check.pair : initial.check.expiredPair;
}

export interface CertificateReload {
  result: 'ok' | 'failed';
  /** The certificate now served (the new one on 'ok', the previous one — or none — on 'failed'). */
  current: CertificateInfo | undefined;
  /** The rejected certificate, when it could be parsed. */
  rejected?: CertificateInfo | undefined;
  error?: string | undefined;
}

export interface CertificateWatchOptions {
  /** Puts a validated pair into the running server. A throw rejects the pair. */
  install: (pair: CertificatePair) => void;
  onReload?: ((reload: CertificateReload) => void) | undefined;
  contextOptions: (pair: CertificatePair) => SecureContextOptions;
  pollIntervalMs?: number | undefined;
}

export interface CertificateWatcher {
  /** The certificate the server presents to new connections, if any. */
  current(): CertificateInfo | undefined;
  /** Ready only with a certificate that has not expired (the apiserver refuses an expired one). */
  readiness(): { ok: boolean; reason?: string | undefined };
  close(): void;
}

/**
 * Watches the files the initial pair came from. The server was started with `servedPair(initial)`: the valid pair,
 * an expired one (served rather than nothing, and reported not ready), or none.
 */
export function watchCertificate(
  paths: CertificatePaths,
  initial: InitialCertificate,
  opts: CertificateWatchOptions,
): CertificateWatcher {
  let current = servedPair(initial) ? initial.check.certificate : undefined;
  let lastError = initial.check.ok ? undefined : initial.check.error;

  const watch = watchFiles({
    paths: [paths.certPath, paths.keyPath],
    baseline: initial.snapshot,
    pollIntervalMs: opts.pollIntervalMs,
    onChange(snapshot) {
      const check = checkPair(snapshot, paths, opts.contextOptions, Date.now());
      if (check.ok) {
        try {
          opts.install(check.pair);
        } catch (error) {
          lastError = `installing TLS certificate ${paths.certPath}: ${message(error)}`;
          opts.onReload?.({ result: 'failed', current, rejected: check.certificate, error: lastError });
          return;
        }
        current = check.certificate;
        lastError = undefined;
        opts.onReload?.({ result: 'ok', current });
      } else {
        lastError = check.error;
        opts.onReload?.({ result: 'failed', current, rejected: check.certificate, error: check.error });
      }
    },
  });

  return {
    current: () => current,
    readiness() {
      if (!current) return { ok: false, reason: lastError ?? 'no serving certificate' };
      if (current.notAfter.getTime() <= Date.now()) {
        const newer = lastError ? `; newer files rejected: ${lastError}` : '';
        return { ok: false, reason: `serving certificate expired at ${current.notAfter.toISOString()}${newer}` };
      }
      return { ok: true };
    },
    close: () => watch.close(),
  };
}
