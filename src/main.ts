/**
 * The composition root: the only place that reads the environment, opens files, creates the logger, the metrics
 * registry and the servers, and wires them together. Everything else receives what it needs as arguments — the
 * environment too: the kubeconfig loader follows client-go's order ($KUBECONFIG, the in-cluster variables, $HOME)
 * in the `env` it is given.
 *
 *   flags → logger → metrics → config (watched) → namespace source → certificate (watched) → ops + webhook apps
 *     → listen → namespace sync → (signal) → not ready → drain → close → stop watchers → exit
 *
 * `start(flags)` builds and starts one instance and returns a handle with `stop()` (tests start it in-process);
 * `cli()` adds flag parsing, the banner, signals and exit codes, and runs when this file is the program
 * (`node dist/main.js`). stdout carries JSON log lines only; the human banner goes to stderr.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { type Flags, parseFlags, usage } from './cli/flags.ts';
import { ConfigError } from './config/load.ts';
import { type ConfigWatcher, staticConfig, watchConfig } from './config/watch.ts';
import { buildOpsApp, namespaceSourceCheck, type ReadinessCheck } from './http/ops-app.ts';
import {
  buildWebhookApp,
  MUTATE_PATH,
  NO_CERTIFICATE_YET,
  setTlsContext,
  tlsContextOptions,
} from './http/webhook-app.ts';
import {
  certificateFields,
  configFields,
  logCertificateReload,
  logConfigReload,
  namespaceLogObserver,
} from './logging/observers.ts';
import { createAdoptionMetrics } from './metrics/adoption.ts';
import { createMetrics } from './metrics/metrics.ts';
import { createReadinessMetrics } from './metrics/readiness.ts';
import {
  createCertificateMetrics,
  createConfigMetrics,
  createNamespaceMetrics,
  type NamespaceProbe,
} from './metrics/runtime-metrics.ts';
import {
  type ClusterSourceObserver,
  combineObservers,
  createClusterNamespaceSource,
} from './namespaces/cluster-source.ts';
import { createFileNamespaceSource, NamespaceFileError } from './namespaces/file-source.ts';
import {
  type CertificatePaths,
  type CertificateWatcher,
  readCertificate,
  servedPair,
  watchCertificate,
} from './tls/cert-watch.ts';

/** Expected start-up failures: printed as one line, exit 1. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * After the drain, closing may take at most this long; then the remaining connections are cut. The Deployment's
 * terminationGracePeriodSeconds (20) must cover drain (5) + this + margin; in-flight reviews are bounded by the
 * webhook's timeoutSeconds (3) anyway.
 */
export const CLOSE_DEADLINE_MS = 10_000;

const DEV_CERT_HINT = ' (run `npx node scripts/dev-certs.ts` for a development certificate)';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export interface StartOptions {
  /**
   * The environment the cluster namespace source reads (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`/`_PORT`, `HOME`),
   * and where `KUBECONFIG` is looked up to tell `--kubeconfig` from the variable. Default process.env.
   */
  env?: Env | undefined;
  /** Default: `createLogger(flags)`. */
  logger?: Logger | undefined;
  /** How often the config and certificate files are polled besides fs.watch (default 5 s); tests go faster. */
  filePollIntervalMs?: number | undefined;
}

/** JSON lines on stdout at `--log-level`, each with the pid. */
export function createLogger(flags: Pick<Flags, 'logLevel'>): Logger {
  return pino({ level: flags.logLevel, base: { pid: process.pid } });
}

export interface RunningApp {
  webhookPort: number;
  opsPort: number;
  webhookUrl: string;
  opsUrl: string;
  version: string;
  registry: Registry;
  /** Problems that do not stop the process but keep it unready (for the banner); also logged. */
  warnings: string[];
  /** The namespace source's first full sync (the file source: already done). Rejects only if stopped first. */
  synced: Promise<void>;
  /**
   * Shutdown, in order: /readyz false → keep answering `drainSeconds` (responses say `Connection: close`) → stop
   * accepting → finish in-flight reviews → close the remaining connections → stop the namespace source and the file
   * watchers. Resolves true when everything closed within the deadline. Idempotent.
   */
  stop(drainSeconds?: number): Promise<boolean>;
}

/** The namespace source, and what kind it is: a file loads at start or not at all; the cluster cache keeps trying. */
interface Namespaces {
  source: NamespaceProbe;
  kind: 'file' | 'cluster';
}

/**
 * THE place where the namespace source is chosen: `--namespaces FILE` → the file; otherwise the cluster watch cache,
 * configured from `--kubeconfig`, `$KUBECONFIG` (a path list, which the loader reads itself), the in-cluster service
 * account, or ~/.kube/config, in that order.
 */
function createNamespaceSource(flags: Flags, env: Env, observer: ClusterSourceObserver): Namespaces {
  if (flags.namespaces !== undefined) return { source: createFileNamespaceSource(flags.namespaces), kind: 'file' };
  // flags.kubeconfig also carries $KUBECONFIG, which may be a colon-separated list: only a path that came from the
  // flag itself is passed as a file.
  const kubeconfig =
    flags.kubeconfig !== undefined && flags.kubeconfig !== env.KUBECONFIG ? flags.kubeconfig : undefined;
  try {
    return { source: createClusterNamespaceSource({ kubeconfig, env, observer }), kind: 'cluster' };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new StartupError(
      `cluster namespace source: ${message} (or pass --namespaces FILE to read namespaces from a file)`,
    );
  }
}

/** The policy configuration: the built-in one, or the file, watched. */
async function loadConfiguration(
  flags: Flags,
  logger: Logger,
  registry: Registry,
  pollIntervalMs: number | undefined,
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
          },
        });
  metrics.loaded();
  log.info(configFields(flags.config, config.current()), 'configuration loaded');
  return config;
}

/** Listens, or throws a StartupError naming the flag. Resolves with the port actually bound. */
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
    throw new StartupError(`cannot listen on ${flags.host}:${port} (${flag}): ${why}`);
  }
}

export async function start(flags: Flags, options: StartOptions = {}): Promise<RunningApp> {
  const env = options.env ?? process.env;
  const version = packageVersion();
  const logger = options.logger ?? createLogger(flags);
  const registry = new Registry();
  const metrics = createMetrics(registry, { version });
  const state = { stopping: false };
  const warnings: string[] = [];
  // Everything started is released by `release`, whether start-up fails half-way or stop() runs: the servers first
  // (the webhook's in-flight reviews finish, then ops), then the rest in reverse order of creation.
  const servers: Servers = {};
  const cleanups: Array<() => unknown> = [];
  const release = (deadlineMs: number) => closeAll(servers, cleanups, deadlineMs, logger);

  try {
    const config = await loadConfiguration(flags, logger, registry, options.filePollIntervalMs);
    cleanups.push(() => config.close());

    const nsMetrics = createNamespaceMetrics(registry);
    const ns = createNamespaceSource(
      flags,
      env,
      combineObservers(nsMetrics.observer, namespaceLogObserver(logger.child({ component: 'namespaces' }))),
    );
    const namespaces = ns.source;
    nsMetrics.track(namespaces);
    createAdoptionMetrics(registry, { config: () => config.current(), namespaces });
    cleanups.push(() => namespaces.stop());

    const paths: CertificatePaths = { certPath: flags.tlsCert, keyPath: flags.tlsKey };
    const certLog = logger.child({ component: 'certificate' });
    const certMetrics = createCertificateMetrics(registry);
    const initialCert = await readCertificate(paths, tlsContextOptions);
    const firstPair = servedPair(initialCert);
    if (!initialCert.check.ok) {
      const hint =
        firstPair === undefined && initialCert.snapshot.some((f) => f.error === 'ENOENT') ? DEV_CERT_HINT : '';
      const warning = `${initialCert.check.error}${hint}; not ready until a valid certificate appears`;
      warnings.push(warning);
      certLog.error({ error: initialCert.check.error }, 'no valid serving certificate at start, not ready');
    }

    const webhook = buildWebhookApp({
      logger: logger.child({ server: 'webhook' }),
      getConfig: () => config.current(),
      namespaces,
      metrics,
      https: firstPair ?? NO_CERTIFICATE_YET,
      closeConnections: () => state.stopping,
    });
    servers.webhook = webhook;

    const certs: CertificateWatcher = watchCertificate(paths, initialCert, {
      contextOptions: tlsContextOptions,
      install: (pair) => setTlsContext(webhook, pair),
      pollIntervalMs: options.filePollIntervalMs,
      onReload: (reload) => {
        certMetrics.onReload(reload);
        logCertificateReload(certLog, reload);
      },
    });
    certMetrics.loaded(certs.current());
    cleanups.push(() => certs.close());

    const readiness: ReadinessCheck[] = [
      namespaceSourceCheck(namespaces),
      { name: 'certificate', check: () => certs.readiness() },
      { name: 'shutdown', check: () => (state.stopping ? { ok: false, reason: 'shutting down' } : { ok: true }) },
    ];
    createReadinessMetrics(registry, readiness);
    const ops = buildOpsApp({ logger: logger.child({ server: 'ops' }), registry, readiness });

    // Ops first: /livez answers (and /readyz says why not) while the namespace source does its first sync.
    const opsPort = await listen(ops, flags, flags.opsPort, '--ops-port', 'ops');
    servers.ops = ops;
    const { synced } = await startNamespaces(ns, logger, state);
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
        certificate: current ? certificateFields(current) : null,
      },
      'listening',
    );

    let stopped: Promise<boolean> | undefined;
    const stop = (drainSeconds = 0) => {
      stopped ??= shutdown(drainSeconds, logger, state, release);
      return stopped;
    };
    return { webhookPort: port, opsPort, webhookUrl, opsUrl, version, registry, warnings, synced, stop };
  } catch (error) {
    state.stopping = true;
    await release(CLOSE_DEADLINE_MS);
    throw error;
  }
}

/**
 * Starts the source; `synced` is its first sync (logged when it comes). A file must load now: a file that cannot be
 * read is a start-up error. The cluster cache retries in the background until it has a list.
 */
async function startNamespaces(
  namespaces: Namespaces,
  logger: Logger,
  state: { stopping: boolean },
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
    if (!state.stopping) logger.error({ err: error }, 'namespace source failed');
  });
  return { synced };
}

/** The servers, once there is something to close: the webhook from when it is built, ops from when it listens. */
interface Servers {
  webhook?: FastifyInstance;
  ops?: FastifyInstance;
}

/**
 * THE closer: the webhook (stops accepting, closes idle keep-alive connections; in-flight reviews finish, and their
 * responses carry `Connection: close`), then ops (probes and scrapes can be cut; /readyz kept answering 503 until
 * now), then `cleanups` in reverse order. Connections still open at the deadline are cut. Resolves true when
 * everything closed in time.
 */
async function closeAll(
  servers: Servers,
  cleanups: Array<() => unknown>,
  deadlineMs: number,
  logger: Logger,
): Promise<boolean> {
  const { webhook, ops } = servers;
  let clean = true;
  const deadline = setTimeout(() => {
    clean = false;
    logger.error({ deadlineMs }, 'close deadline passed, cutting the remaining connections');
    webhook?.server.closeAllConnections();
    ops?.server.closeAllConnections();
  }, deadlineMs);
  const steps: Array<() => unknown> = [];
  if (webhook) steps.push(() => webhook.close());
  if (ops) {
    steps.push(() => {
      const closed = ops.close();
      ops.server.closeAllConnections();
      return closed;
    });
  }
  steps.push(...cleanups.splice(0).reverse());
  for (const step of steps) {
    try {
      await step();
    } catch {
      // Best effort: the rest still has to be released.
    }
  }
  clearTimeout(deadline);
  return clean;
}

async function shutdown(
  drainSeconds: number,
  logger: Logger,
  state: { stopping: boolean },
  release: (deadlineMs: number) => Promise<boolean>,
): Promise<boolean> {
  state.stopping = true;
  // The kubelet sends SIGTERM when the pod turns Terminating; the endpoint is removed asynchronously, and until the
  // apiserver and kube-proxy have caught up, reviews still arrive here and must be answered (the readiness check
  // already fails). Each response tells its client to reconnect, which lands on another endpoint.
  logger.info({ drainDelaySeconds: drainSeconds }, 'shutting down');
  await sleep(drainSeconds * 1000);
  logger.info('drain over, closing');
  const clean = await release(CLOSE_DEADLINE_MS);
  logger.info({ clean }, 'stopped');
  return clean;
}

function shellQuote(word: string): string {
  return /^[\w./:@%+=-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** A curl that posts the example AdmissionReview to this very server, trusting the dev CA when there is one. */
function tryItCommand(flags: Flags, port: number): string {
  const wildcard = ['0.0.0.0', '::', '[::]', ''].includes(flags.host);
  const host = wildcard ? 'localhost' : flags.host.includes(':') ? `[${flags.host}]` : flags.host;
  const ca = join(dirname(flags.tlsCert), 'ca.crt');
  const trust = existsSync(ca) ? `--cacert ${shellQuote(ca)}` : '--insecure';
  const example =
    relative(process.cwd(), join(packageRoot, 'examples', 'admission-review.json')) || 'admission-review.json';
  return `curl ${trust} -H 'Content-Type: application/json' --data @${shellQuote(example)} https://${host}:${port}${MUTATE_PATH}`;
}

function banner(flags: Flags, app: RunningApp): string {
  return [
    ...app.warnings.map((warning) => `dns-tuner: ${warning}`),
    `dns-tuner ${app.version} listening`,
    `  webhook  ${app.webhookUrl}`,
    `  ops      ${app.opsUrl}/livez  /readyz  /metrics`,
    'Try it:',
    `  ${tryItCommand(flags, app.webhookPort)}`,
    '',
  ].join('\n');
}

/** The program: flags → start → banner → wait for a signal → stop → exit code. */
export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<never> {
  const parsed = parseFlags(argv, env);
  if (!parsed.ok) {
    process.stderr.write(`dns-tuner: ${parsed.error}\n`);
    process.exit(parsed.exitCode);
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  const { flags } = parsed;
  const logger = createLogger(flags);
  let app: RunningApp;
  try {
    app = await start(flags, { env, logger });
  } catch (error) {
    const expected =
      error instanceof StartupError || error instanceof ConfigError || error instanceof NamespaceFileError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`dns-tuner: ${expected ? message : `start-up failed: ${message}`}\n`);
    process.exit(1);
  }
  process.stderr.write(banner(flags, app));

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  for (const again of ['SIGTERM', 'SIGINT'] as const) {
    process.on(again, () => {
      logger.warn({ signal: again }, 'second signal, exiting now');
      process.exit(1);
    });
  }
  // SIGTERM is the kubelet (drain); SIGINT is a person at a terminal (Ctrl-C on `npm start`): nobody routes to us.
  const drainSeconds = signal === 'SIGTERM' ? flags.drainDelaySeconds : 0;
  logger.info({ signal }, 'signal received');
  // Whatever happens inside stop(), the process ends within the drain + the close deadline + a margin.
  setTimeout(
    () => {
      logger.error('shutdown did not finish, exiting');
      process.exit(1);
    },
    drainSeconds * 1000 + CLOSE_DEADLINE_MS + 2_000,
  ).unref();
  try {
    process.exit((await app.stop(drainSeconds)) ? 0 : 1);
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}

if (import.meta.main) await cli(process.argv.slice(2), process.env);
