/**
 * The serving certificate, in one place: read at start (a missing or invalid pair keeps the server up and unready,
 * with a warning, until a valid pair appears — a Secret mounted late), then watched and hot-swapped into the
 * webhook (../tls/cert-watch.ts), with its metrics, log lines and readiness check.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { logCertificateReload } from '../logging/observers.ts';
import { createCertificateMetrics } from '../metrics/runtime-metrics.ts';
import {
  type CertificatePair,
  type CertificatePaths,
  type CertificateWatcher,
  readCertificate,
  servedPair,
  watchCertificate,
} from '../tls/cert-watch.ts';
import { tlsContextOptions } from '../tls/context.ts';

const DEV_CERT_HINT = ' (run `npx node scripts/dev-certs.ts` for a development certificate)';

export interface ServingCertificate {
  /** The pair to start the server with; undefined: start without one (every handshake fails until one appears). */
  first: CertificatePair | undefined;
  /** Why the server starts unready, for the banner (also logged). */
  warning: string | undefined;
  /** Starts watching the files; each valid new pair is passed to `install`. */
  watch(install: (pair: CertificatePair) => void): CertificateWatcher;
}

export async function loadServingCertificate(
  paths: CertificatePaths,
  options: { registry: Registry; logger: Logger; pollIntervalMs?: number | undefined },
): Promise<ServingCertificate> {
  const log = options.logger.child({ component: 'certificate' });
  const metrics = createCertificateMetrics(options.registry);
  const initial = await readCertificate(paths, tlsContextOptions);
  const first = servedPair(initial);
  let warning: string | undefined;
  if (!initial.check.ok) {
    const hint = first === undefined && initial.snapshot.some((f) => f.error === 'ENOENT') ? DEV_CERT_HINT : '';
    warning = `${initial.check.error}${hint}; not ready until a valid certificate appears`;
    log.error({ error: initial.check.error }, 'no valid serving certificate at start, not ready');
  }
  return {
    first,
    warning,
    watch(install) {
      const watcher = watchCertificate(paths, initial, {
        contextOptions: tlsContextOptions,
        install,
        pollIntervalMs: options.pollIntervalMs,
        onReload: (reload) => {
          metrics.onReload(reload);
          logCertificateReload(log, reload);
        },
      });
      metrics.loaded(watcher.current());
      return watcher;
    },
  };
}
