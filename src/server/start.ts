/**
 * The composition root: the only place that creates the logger's children, the metrics registry, the adapters
 * (config file, namespace source, serving certificate) and the servers, and wires them together. Everything else
 * receives what it needs as arguments — the environment too: the kubeconfig loader follows client-go's order
 * ($KUBECONFIG, the in-cluster variables, $HOME) in the `env` it is given.
 *
 *   flags → metrics → config (watched) → namespace source + cluster facts → certificate (watched)
 *     → webhook (./wire.ts) + ops → listen → namespace and cluster-facts sync … stop() → ./lifecycle.ts
 *
 * `startServer(flags)` builds and starts one instance and returns a handle with `stop()`; `dns-tuner serve`
 * (../cli/serve.ts) adds flag parsing, the banner, signals and exit codes. Tests start it in-process.
 */

import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import type { FlagOrigin, Flags } from '../cli/flags.ts';
import type { ClusterFactsObserver } from '../cluster/cluster-source.ts';
import { type ClusterFactsCacheSource, createClusterFactsSource } from '../cluster/cluster-source.ts';
import type { ClusterFactsSource } from '../cluster/source.ts';
import {
  type ConfigReload,
  type ConfigWatcher,
  namespacesLosingPolicy,
  removedPolicies,
  staticConfig,
  watchConfig,
} from '../config/watch.ts';
import type { Config, NamespaceInfo } from '../core/types.ts';
import { DnsTunerError } from '../errors.ts';
import { namespaceSourceCheck, type ReadinessCheck } from '../health/readiness.ts';
import { buildOpsApp } from '../http/ops-app.ts';
import { MUTATE_PATH, NO_CERTIFICATE_YET, setTlsContext } from '../http/webhook-app.ts';
import { createApiClient } from '../kube/api-client.ts';
import { connectionOf, loadKubeConfig } from '../kube/kubeconfig.ts';
import { fanOut } from '../kube/observers.ts';
import {
  certificateFields,
  clusterFactsLogObserver,
  clusterViewLogger,
  configFields,
  logConfigReload,
  namespaceLogObserver,
} from '../logging/observers.ts';
import { createAdoptionMetrics } from '../metrics/adoption.ts';
import { type ClusterMetricsDeps, createClusterMetrics, currentView } from '../metrics/cluster-metrics.ts';
import { createMetrics } from '../metrics/metrics.ts';
import { createReadinessMetrics } from '../metrics/readiness.ts';
import { createConfigMetrics, createNamespaceMetrics, type NamespaceProbe } from '../metrics/runtime-metrics.ts';
import {
  type ClusterSourceObserver,
  combineObservers,
  createClusterNamespaceSource,
} from '../namespaces/cluster-source.ts';
import { openObjectFile } from '../namespaces/file-source.ts';
import { loadServingCertificate } from './certificate.ts';
import { createLifecycle } from './lifecycle.ts';
import { wireWebhook } from './wire.ts';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export interface StartOptions {
  /**
   * The environment the cluster namespace source reads (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`/`_PORT`, `HOME`).
   * Default process.env.
   */
  env?: Env | undefined;
  /** Where `--namespaces` and `--kubeconfig` came from (parseFlags tells); absent: both count as flags. */
  origins?: Partial<Record<keyof Flags, FlagOrigin>> | undefined;
  /** Default: `createLogger(flags)`. */
  logger?: Logger | undefined;
  /** How often the config and certificate files are polled besides fs.watch (default 5 s); tests go faster. */
  filePollIntervalMs?: number | undefined;
}

/** JSON lines on stdout at `--log-level`, each with the pid. */
export function createLogger(flags: Pick<Flags, 'logLevel'>): Logger {
  return pino({ level: flags.logLevel, base: { pid: process.pid } });
}

export interface RunningServer {
  webhookPort: number;
  opsPort: number;
  webhookUrl: string;
  opsUrl: string;
  version: string;
  registry: Registry;
  /** Problems that do not stop the process but keep it unready (for the banner); also logged. */
  warnings: string[];
  /**
   * The first full sync of the namespace source and of the cluster facts (a file: already done). Rejects only if
   * stopped first.
   */
  synced: Promise<void>;
  /**
   * Shutdown, in order: /readyz false → keep answering `drainSeconds` (responses say `Connection: close`) → stop
   * accepting → finish in-flight reviews → close the remaining connections → stop the namespace source and the file
   * watchers. Resolves true when everything closed within the deadline. Idempotent.
   */
  stop(drainSeconds?: number): Promise<boolean>;
}

/**
 * The namespace source and the cluster facts, and what kind they are: a file loads at start or not at all; the
 * cluster caches keep trying.
 */
interface Namespaces {
  source: NamespaceProbe;
  kind: 'file' | 'cluster';
  clusterFacts: ClusterFactsSource;
  /** The API server's caches, for their freshness metrics; none for a file. */
  clusterCaches?: ClusterFactsCacheSource | undefined;
}

interface SourceObservers {
  namespaces: ClusterSourceObserver;
  clusterFacts: ClusterFactsObserver;
}

/**
 * THE place where the namespace source is chosen. `--namespaces FILE` reads the file; otherwise the cluster watch
 * cache, configured from `--kubeconfig`, `$KUBECONFIG` (a path list, which the loader reads itself), the in-cluster
 * service account, or ~/.kube/config, in that order. An explicit `--kubeconfig` flag beats a namespace file that
 * only comes from `$DNS_TUNER_NAMESPACES` (so `npm start -- --kubeconfig FILE` watches that cluster although the
 * script names the example file); both as flags is an error naming both.
 */
function createNamespaceSource(
  flags: Flags,
  options: StartOptions,
  observers: SourceObservers,
  config: Config,
): Namespaces {
  const env = options.env ?? process.env;
  const from = (key: 'namespaces' | 'kubeconfig'): FlagOrigin | undefined =>
    flags[key] === undefined ? undefined : (options.origins?.[key] ?? 'flag');
  const file = from('namespaces');
  const kubeconfigFrom = from('kubeconfig');
  if (file === 'flag' && kubeconfigFrom === 'flag') {
    throw new DnsTunerError('DNS_TUNER_CONFLICTING_FLAGS', '--namespaces', '--kubeconfig');
  }
  if (flags.namespaces !== undefined && kubeconfigFrom !== 'flag') {
    // The same file holds the cluster-facts objects (Services, ConfigMaps, DaemonSets, NetworkPolicies), if any.
    const file = openObjectFile(flags.namespaces, config.discovery);
    return { source: file.namespaces, kind: 'file', clusterFacts: file.clusterFacts };
  }
  // `$KUBECONFIG` may be a colon-separated list, which the loader reads from `env` itself: only a path given as the
  // flag is passed as a file.
  const kubeconfig = kubeconfigFrom === 'flag' ? flags.kubeconfig : undefined;
  try {
    const source = createClusterNamespaceSource({ kubeconfig, env, observer: observers.namespaces });
    const client = createApiClient(connectionOf(loadKubeConfig({ kubeconfig, env })));
    const caches = createClusterFactsSource({
      client,
      discovery: config.discovery,
      observer: observers.clusterFacts,
    });
    return { source, kind: 'cluster', clusterFacts: caches, clusterCaches: caches };
  } catch (error) {
    if (error instanceof DnsTunerError) throw error;
    throw new DnsTunerError('DNS_TUNER_BAD_KUBECONFIG', error instanceof Error ? error.message : String(error));
  }
}

/** The policy configuration: the built-in one, or the file, watched. `onReload` hears every reload attempt. */
async function loadConfiguration(
  flags: Flags,
  logger: Logger,
  registry: Registry,
  pollIntervalMs: number | undefined,
  onReload: (reload: ConfigReload) => void,
): Promise<ConfigWatcher> {
  const metrics = createConfigMetrics(registry);
  const log = logger.child({ component: 'config' });
  const config =
    flags.config === undefined
      ? staticConfig()
      : await watchConfig(flags.config, {
          pollIntervalMs,
          onReload: (reload) => {
            metrics.onReload(reload);
            logConfigReload(log, reload);
            onReload(reload);
          },
        });
  metrics.loaded();
  log.info(configFields(flags.config, config.current()), 'configuration loaded');
  return config;
}

/** A reload that drops a policy namespaces still select is applied, and said loudly: their pods are left alone now. */
function warnRemovedPolicies(log: Logger, removed: string[], namespaces: Iterable<NamespaceInfo>): void {
  if (removed.length === 0) return;
  const losing = namespacesLosingPolicy(removed, namespaces);
  if (losing.count === 0) return;
  log.warn(
    { removedPolicies: removed, namespaces: losing.names, namespaceCount: losing.count },
    'the new configuration removes policies that namespaces still select; their pods are left alone (unknown-policy)',
  );
}

/** Listens, or throws DNS_TUNER_CANNOT_LISTEN naming the flag. Resolves with the port actually bound. */
async function listen(app: FastifyInstance, flags: Flags, port: number, flag: string, name: string): Promise<number> {
  try {
    await app.listen({
      host: flags.host,
      port,
      listenTextResolver: (address) => `${name} server listening at ${address}`,
    });
    return (app.server.address() as AddressInfo).port;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : String(error);
    throw new DnsTunerError('DNS_TUNER_CANNOT_LISTEN', `${flags.host}:${port}`, flag, why);
  }
}

export async function startServer(flags: Flags, options: StartOptions = {}): Promise<RunningServer> {
  const version = packageVersion();
  const logger = options.logger ?? createLogger(flags);
  const registry = new Registry();
  const metrics = createMetrics(registry, { version });
  const lifecycle = createLifecycle(logger);
  const warnings: string[] = [];

  try {
    const reloads: Array<(reload: ConfigReload) => void> = [];
    const config = await loadConfiguration(flags, logger, registry, options.filePollIntervalMs, (reload) => {
      for (const listener of reloads) listener(reload);
    });
    lifecycle.onRelease(() => config.close());

    const nsMetrics = createNamespaceMetrics(registry);
    const clusterMetrics = createClusterMetrics(registry);
    const clusterLog = logger.child({ component: 'cluster' });
    const ns = createNamespaceSource(
      flags,
      options,
      {
        namespaces: combineObservers(
          nsMetrics.observer,
          namespaceLogObserver(logger.child({ component: 'namespaces' })),
        ),
        clusterFacts: combineFactsObservers(clusterMetrics.observer, clusterFactsLogObserver(clusterLog)),
      },
      config.current(),
    );
    const namespaces = ns.source;
    nsMetrics.track(namespaces);
    let previous = config.current();
    const configLog = logger.child({ component: 'config' });
    reloads.push((reload) => {
      if (reload.result !== 'ok') return;
      warnRemovedPolicies(configLog, removedPolicies(previous, reload.config), namespaces.entries());
      previous = reload.config;
    });
    createAdoptionMetrics(registry, { config: () => config.current(), namespaces });
    lifecycle.onRelease(() => namespaces.stop());
    const { clusterFacts } = ns;
    const viewDeps: ClusterMetricsDeps = { config: () => config.current(), facts: clusterFacts };
    clusterMetrics.track(viewDeps, ns.clusterCaches);
    lifecycle.onRelease(() => clusterFacts.stop());
    const checkView = watchClusterView(viewDeps, clusterFacts, clusterLog, reloads);

    const certificate = await loadServingCertificate(
      { certPath: flags.tlsCert, keyPath: flags.tlsKey },
      { registry, logger, pollIntervalMs: options.filePollIntervalMs },
    );
    if (certificate.warning !== undefined) warnings.push(certificate.warning);

    const { app: webhook, dryRun } = wireWebhook({
      logger: logger.child({ server: 'webhook' }),
      getConfig: () => config.current(),
      namespaces,
      clusterFacts,
      metrics,
      https: certificate.first ?? NO_CERTIFICATE_YET,
      closeConnections: () => lifecycle.stopping,
    });
    lifecycle.setWebhook(webhook);
    lifecycle.onRelease(() => dryRun.close());
    const certs = certificate.watch((pair) => setTlsContext(webhook, pair));
    lifecycle.onRelease(() => certs.close());

    const readiness: ReadinessCheck[] = [
      namespaceSourceCheck(namespaces),
      {
        name: 'cluster-facts',
        check: () => {
          const status = clusterFacts.status();
          return status.ready ? { ok: true } : { ok: false, reason: status.reason ?? 'cluster facts not ready' };
        },
      },
      { name: 'certificate', check: () => certs.readiness() },
      {
        name: 'shutdown',
        check: () => (lifecycle.stopping ? { ok: false, reason: 'shutting down' } : { ok: true }),
      },
    ];
    createReadinessMetrics(registry, readiness);
    const ops = buildOpsApp({ logger: logger.child({ server: 'ops' }), registry, readiness });

    // Ops first: /livez answers (and /readyz says why not) while the namespace source does its first sync.
    const opsPort = await listen(ops, flags, flags.opsPort, '--ops-port', 'ops');
    lifecycle.setOps(ops);
    const namespacesSynced = (await startNamespaces(ns, logger, () => lifecycle.stopping)).synced;
    const factsSynced = startClusterFacts(ns, clusterLog, () => lifecycle.stopping, checkView);
    const synced = Promise.all([namespacesSynced, factsSynced]).then(() => {});
    // Each rejection is logged where it happens; nobody need await this one.
    synced.catch(() => {});
    const port = await listen(webhook, flags, flags.port, '--port', 'webhook');

    const webhookUrl = `https://${flags.host}:${port}${MUTATE_PATH}`;
    const opsUrl = `http://${flags.host}:${opsPort}`;
    const current = certs.current();
    logger.info(
      {
        webhook: webhookUrl,
        port,
        ops: opsUrl,
        opsPort,
        version,
        namespaceSource: ns.kind,
        certificate: current ? certificateFields(current) : null,
      },
      'listening',
    );
    return {
      webhookPort: port,
      opsPort,
      webhookUrl,
      opsUrl,
      version,
      registry,
      warnings,
      synced,
      stop: (drainSeconds) => lifecycle.stop(drainSeconds),
    };
  } catch (error) {
    await lifecycle.abort();
    throw error;
  }
}

/**
 * Starts the cluster facts in the background (a file's were loaded with its namespaces): /readyz waits for them.
 * A resource the API refuses counts as started (its fact is not checked); the caches reject only when stopped first.
 */
function startClusterFacts(
  namespaces: Namespaces,
  logger: Logger,
  stopping: () => boolean,
  started: () => void,
): Promise<void> {
  const synced = namespaces.clusterFacts.start().then(() => {
    logger.info({ source: namespaces.kind }, 'cluster facts ready');
    started();
  });
  synced.catch((error: unknown) => {
    if (!stopping()) logger.error({ err: error }, 'cluster facts source failed');
  });
  return synced;
}

/**
 * Logs the cluster view whenever it may have changed (the facts, a config reload): the values in force, and once per
 * appearance a configured value the cluster contradicts. A reload that changes `discovery` is told to need a restart:
 * the caches watch the objects named at start.
 */
function watchClusterView(
  deps: ClusterMetricsDeps,
  facts: ClusterFactsSource,
  logger: Logger,
  reloads: Array<(reload: ConfigReload) => void>,
): () => void {
  const log = clusterViewLogger(logger);
  const check = () => {
    if (facts.status().ready) log(currentView(deps));
  };
  facts.onChange(check);
  const discovery = JSON.stringify(deps.config().discovery);
  reloads.push((reload) => {
    if (reload.result !== 'ok') return;
    if (JSON.stringify(reload.config.discovery) !== discovery) {
      logger.warn(
        { discovery: reload.config.discovery },
        'config discovery changed: the cluster facts follow the objects named at start until the next restart',
      );
    }
    check();
  });
  return check;
}

/** One cluster-facts observer that calls each of `observers` in turn; a throw from one is swallowed. */
function combineFactsObservers(...observers: ClusterFactsObserver[]): ClusterFactsObserver {
  return fanOut<ClusterFactsObserver>(
    ['onRelist', 'onSynced', 'onWatchRestart', 'onEvent', 'onError', 'onForbidden'],
    observers,
  );
}

/**
 * Starts the source; resolves with its first sync (logged when it comes). A file must load now: a file that cannot
 * be read is a start-up error. The cluster cache retries in the background until it has a list.
 */
async function startNamespaces(
  namespaces: Namespaces,
  logger: Logger,
  stopping: () => boolean,
): Promise<{ synced: Promise<void> }> {
  const { source } = namespaces;
  const synced = source.start().then(() => {
    logger.info({ namespaces: source.status().size }, 'namespace source ready');
  });
  if (namespaces.kind === 'file') {
    await synced;
    return { synced };
  }
  // The cluster source rejects only when stopped before its first list; nobody awaits it then.
  synced.catch((error: unknown) => {
    if (!stopping()) logger.error({ err: error }, 'namespace source failed');
  });
  return { synced };
}
