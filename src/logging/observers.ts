/**
 * Log lines for what changes while the webhook runs, as observers of the components (which have no logger): the
 * namespace cache's lists and watch restarts, configuration reloads, certificate swaps. One line per happening, with
 * the fields an operator greps for; routine ones at info, the ones that need a look at warn/error.
 */
import type { Logger } from 'pino';
import type { ConfigReload } from '../config/watch.ts';
import type { Config } from '../core/types.ts';
import type { ClusterSourceObserver } from '../namespaces/cluster-source.ts';
import type { CertificateInfo, CertificateReload } from '../tls/cert-watch.ts';

export function namespaceLogObserver(logger: Logger): ClusterSourceObserver {
  return {
    onRelist(reason) {
      if (reason === 'initial') logger.info({ reason }, 'listing namespaces');
      else logger.info({ reason }, 'relisting namespaces');
    },
    onSynced(info) {
      logger.info(info, 'namespace cache synced');
    },
    onWatchRestart(reason, detail) {
      // The server ends every watch after timeoutSeconds (5–10 min), and the periodic relist is planned: routine.
      const routine = reason === 'closed' || reason === 'periodic';
      logger[routine ? 'info' : 'warn']({ reason, ...(detail ? { detail } : {}) }, 'namespace watch restarted');
    },
    onError(error, phase) {
      logger.warn({ phase, error: error.message }, 'namespace source error');
    },
  };
}

export function certificateFields(certificate: CertificateInfo): Record<string, unknown> {
  return {
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    san: certificate.subjectAltName,
  };
}

/** What a log line says about a configuration: its file (`path`; none → the built-in one), mode and policy names. */
export function configFields(path: string | undefined, config: Config): Record<string, unknown> {
  return { config: path ?? '(built-in)', mode: config.mode, policies: Object.keys(config.policies) };
}

export function logConfigReload(logger: Logger, reload: ConfigReload): void {
  if (reload.result === 'ok') {
    logger.info(configFields(reload.path, reload.config), 'configuration reloaded');
  } else {
    logger.error(
      { config: reload.path, error: reload.error },
      'configuration file rejected, the last good configuration stays in force',
    );
  }
}

export function logCertificateReload(logger: Logger, reload: CertificateReload): void {
  if (reload.result === 'ok' && reload.current) {
    logger.info({ certificate: certificateFields(reload.current) }, 'serving certificate swapped');
  } else {
    logger.error(
      {
        error: reload.error,
        ...(reload.rejected ? { rejected: certificateFields(reload.rejected) } : {}),
        ...(reload.current ? { serving: certificateFields(reload.current) } : { serving: null }),
      },
      'certificate files rejected, the current certificate stays',
    );
  }
}
