/**
 * Log lines for what changes while the webhook runs, as observers of the components (which have no logger): the
 * namespace cache's lists and watch restarts, configuration reloads, certificate swaps. One line per happening, with
 * the fields an operator greps for; routine ones at info, the ones that need a look at warn/error.
 */
import type { Logger } from 'pino';
import type { ClusterFactsObserver } from '../cluster/cluster-source.ts';
import { FACT_OF_RESOURCE } from '../cluster/objects.ts';
import type { ConfigReload } from '../config/watch.ts';
import { type ClusterView, MISMATCH_FIELDS, mismatches } from '../core/cluster-rules.ts';
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

export function clusterFactsLogObserver(logger: Logger): ClusterFactsObserver {
  return {
    onSynced(resource, info) {
      logger.info({ resource, ...info }, 'cluster facts synced');
    },
    onWatchRestart(resource, reason, detail) {
      const routine = reason === 'closed' || reason === 'periodic';
      logger[routine ? 'info' : 'warn'](
        { resource, reason, ...(detail ? { detail } : {}) },
        'cluster facts watch restarted',
      );
    },
    onError(resource, error, phase) {
      logger.warn({ resource, phase, error: error.message }, 'cluster facts source error');
    },
    onForbidden(resource, forbidden, detail) {
      const fact = FACT_OF_RESOURCE[resource];
      if (forbidden) {
        logger.warn(
          { resource, fact, detail },
          'cluster facts: the API server refuses this resource; the fact is not checked and the config is trusted',
        );
      } else logger.info({ resource, fact }, 'cluster facts: the resource can be read again');
    },
  };
}

/**
 * Logs what changes in the cluster view (`check` after every change of the facts or the config): an error when the
 * config starts contradicting the cluster (once, not per review), info when that ends, and the kube-dns IP, cluster
 * domain and node-local mode in force whenever they change.
 */
export function clusterViewLogger(logger: Logger): (view: ClusterView) => void {
  let last: Record<string, unknown> | undefined;
  const reported = new Map<string, string>();
  return (view) => {
    const found = mismatches(view);
    for (const field of MISMATCH_FIELDS) {
      const message = found[field];
      if (message !== undefined && reported.get(field) !== message) {
        logger.error(
          { field, mismatch: message },
          'the config contradicts the cluster: pods that would carry the value get options only',
        );
        reported.set(field, message);
      } else if (message === undefined && reported.has(field)) {
        logger.info({ field }, 'the config no longer contradicts the cluster');
        reported.delete(field);
      }
    }
    const state = {
      kubeDnsIp: view.clusterDNS.value ?? null,
      kubeDnsFrom: view.clusterDNS.from,
      clusterDomain: view.clusterDomain.value,
      clusterDomainFrom: view.clusterDomain.from,
      nodeLocalMode: view.nodeLocal.mode,
      nodeLocalAvailable: view.nodeLocal.available ?? null,
      nodeLocalFrom: view.nodeLocal.from,
    };
    if (last !== undefined && JSON.stringify(last) === JSON.stringify(state)) return;
    last = state;
    const unavailable = state.nodeLocalMode === 'absent' || state.nodeLocalAvailable === false;
    logger[unavailable ? 'warn' : 'info'](state, 'cluster DNS in force');
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
