/**
 * Metrics for what changes while the webhook runs: the namespace cache, configuration reloads and the serving
 * certificate. Each is an observer (plain callbacks) for the component it watches, so the namespace source and the
 * file watchers never import prom-client; gauges that describe "now" read their component at scrape time.
 *
 * Label values are set to 0 up front for every known reason/result, so `rate()` and `increase()` see a series from
 * the first scrape instead of a counter that appears out of nowhere at its first increment.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConfigReload } from '../config/watch.ts';
import { WATCH_RESTART_REASONS } from '../kube/list-watch.ts';
import type { ClusterSourceObserver, DirectGetResult, RelistReason } from '../namespaces/cluster-source.ts';
import type { NamespaceSource } from '../namespaces/source.ts';
import type { CertificateInfo, CertificateReload } from '../tls/cert-watch.ts';

const RELIST_REASONS = ['initial', 'expired', 'inactivity', 'periodic'] as const satisfies readonly RelistReason[];
const DIRECT_GET_RESULTS = ['found', 'not-found', 'error'] as const satisfies readonly DirectGetResult[];
const RESULTS = ['ok', 'failed'] as const;

/**
 * What the namespace gauges read at scrape time: the source, and — for the cluster cache, not the file — when it last
 * heard from the API server (event, bookmark or full list).
 */
export type NamespaceProbe = NamespaceSource & { lastHeardAt?: (() => number | undefined) | undefined };

export interface NamespaceMetrics {
  /** For the cluster source's `observer` option. */
  observer: ClusterSourceObserver;
  /** The source the gauges read (the observer has to exist before the source does). Call once. */
  track(probe: NamespaceProbe): void;
}

export function createNamespaceMetrics(registry: Registry): NamespaceMetrics {
  const registers = [registry];
  let probe: NamespaceProbe | undefined;
  new Gauge({
    name: 'dns_tuner_namespace_cache_size',
    help: 'Namespaces the namespace source knows (watch cache or file).',
    registers,
    collect() {
      if (probe) this.set(probe.status().size);
    },
  });
  const relists = new Counter({
    name: 'dns_tuner_namespace_relists_total',
    help: 'Full lists of namespaces started, by reason (initial, expired, inactivity, periodic).',
    labelNames: ['reason'] as const,
    registers,
  });
  const restarts = new Counter({
    name: 'dns_tuner_namespace_watch_restarts_total',
    help: 'Namespace watches that ended and were re-opened, by reason (closed, error, expired, inactivity, periodic).',
    labelNames: ['reason'] as const,
    registers,
  });
  const directGets = new Counter({
    name: 'dns_tuner_namespace_direct_gets_total',
    help: 'Cache misses answered by a GET of the namespace from the API server, by result.',
    labelNames: ['result'] as const,
    registers,
  });
  for (const reason of RELIST_REASONS) relists.inc({ reason }, 0);
  for (const reason of WATCH_RESTART_REASONS) restarts.inc({ reason }, 0);
  for (const result of DIRECT_GET_RESULTS) directGets.inc({ result }, 0);
  return {
    observer: {
      onRelist: (reason) => relists.inc({ reason }),
      onWatchRestart: (reason) => restarts.inc({ reason }),
      onDirectGet: (result) => directGets.inc({ result }),
    },
    track(source) {
      probe = source;
      // Only a cache that talks to an API server has an age; the file source gets no such series.
      if (!source.lastHeardAt) return;
      new Gauge({
        name: 'dns_tuner_namespace_last_event_age_seconds',
        help:
          'Seconds since the namespace cache last heard from the API server (watch event, bookmark or full list); ' +
          '+Inf before the first list. A real apiserver sends a bookmark about every minute.',
        registers,
        collect() {
          const at = source.lastHeardAt?.();
          this.set(at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, (Date.now() - at) / 1000));
        },
      });
    },
  };
}

export interface ConfigMetrics {
  /** The initial load succeeded (the process does not start otherwise). */
  loaded(): void;
  onReload(reload: ConfigReload): void;
}

export function createConfigMetrics(registry: Registry): ConfigMetrics {
  const registers = [registry];
  const reloads = new Counter({
    name: 'dns_tuner_config_reloads_total',
    help: 'Reloads of the policy configuration file after a change, by result; a failed one keeps the last good.',
    labelNames: ['result'] as const,
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'dns_tuner_config_last_reload_success_timestamp_seconds',
    help: 'When the configuration in force was loaded (start or last successful reload), Unix time.',
    registers,
  });
  const lastSuccessful = new Gauge({
    name: 'dns_tuner_config_last_reload_successful',
    help: '1 if the last load or reload of the configuration file succeeded, 0 if the file now on disk was rejected.',
    registers,
  });
  for (const result of RESULTS) reloads.inc({ result }, 0);
  const succeeded = () => {
    lastSuccess.set(Date.now() / 1000);
    lastSuccessful.set(1);
  };
  return {
    loaded: succeeded,
    onReload(reload) {
      reloads.inc({ result: reload.result });
      if (reload.result === 'ok') succeeded();
      else lastSuccessful.set(0);
    },
  };
}

export interface CertificateMetrics {
  /** The certificate the server started with (none if it started without one). */
  loaded(certificate: CertificateInfo | undefined): void;
  onReload(reload: CertificateReload): void;
}

export function createCertificateMetrics(registry: Registry): CertificateMetrics {
  const registers = [registry];
  const expiry = new Gauge({
    name: 'dns_tuner_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate new connections get, Unix time; 0 while there is none.',
    registers,
  });
  const reloads = new Counter({
    name: 'dns_tuner_certificate_reloads_total',
    help: 'Changes of the certificate/key files, by result; a failed one keeps the certificate being served.',
    labelNames: ['result'] as const,
    registers,
  });
  for (const result of RESULTS) reloads.inc({ result }, 0);
  // 0 for "none": an alert on `expiry - time() < 7d` fires for a missing certificate too.
  const show = (certificate: CertificateInfo | undefined) =>
    expiry.set(certificate ? certificate.notAfter.getTime() / 1000 : 0);
  return {
    loaded: show,
    onReload(reload) {
      reloads.inc({ result: reload.result });
      show(reload.current);
    },
  };
}
