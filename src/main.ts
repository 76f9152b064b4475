/**
 * The composition root: the only place that reads the environment, opens files, creates the logger, the metrics
 * registry and the servers, and wires them together. Everything else receives what it needs as arguments.
 *
 *   flags → logger → config → namespace source → TLS files → metrics → ops app + webhook app → listen → signals
 *
 * stdout carries JSON log lines only; the human banner (where it listens, a curl to try) goes to stderr.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { type Flags, parseFlags, USAGE_EXIT_CODE, usage } from './cli/flags.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { buildOpsApp, namespaceSourceCheck, type ReadinessCheck } from './http/ops-app.ts';
import { buildWebhookApp, MUTATE_PATH, type TlsFiles, tlsContextOptions } from './http/webhook-app.ts';
import { createMetrics } from './metrics/metrics.ts';
import { createFileNamespaceSource, NamespaceFileError } from './namespaces/file-source.ts';
import type { NamespaceSource } from './namespaces/source.ts';

/** Expected start-up failures: printed as one line, exit 1. */
class StartupError extends Error {}

/** After the drain delay, closing may take at most this long before the process exits anyway. */
const CLOSE_DEADLINE_MS = 20_000;

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * THE place where the namespace source is chosen. The cluster watch cache (src/namespaces/cluster-source.ts,
 * configured from flags.kubeconfig or the in-cluster service account) plugs in at the marked line.
 */
function createNamespaceSource(flags: Flags): NamespaceSource {
  if (flags.namespaces !== undefined) return createFileNamespaceSource(flags.namespaces);
  // Cluster source: not wired yet.
  throw new StartupError('no --namespaces and cluster source not available yet (pass --namespaces FILE)');
}

interface LoadedTls extends TlsFiles {
  notAfter: Date;
  subjectAltName: string | undefined;
}

async function loadTls(flags: Flags): Promise<LoadedTls> {
  const read = async (path: string, what: string, flag: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' ? ' (run `npx node scripts/dev-certs.ts` for a development certificate)' : '';
      throw new StartupError(`${what} ${path} (${flag}): ${code === 'ENOENT' ? 'not found' : String(error)}${hint}`);
    }
  };
  const cert = await read(flags.tlsCert, 'TLS certificate', '--tls-cert');
  const key = await read(flags.tlsKey, 'TLS key', '--tls-key');
  try {
    // Fails here, with a clear message, for unreadable PEM or a key that does not match the certificate.
    createSecureContext(tlsContextOptions({ cert, key }));
    const x509 = new X509Certificate(cert);
    return { cert, key, notAfter: new Date(x509.validTo), subjectAltName: x509.subjectAltName };
  } catch (error) {
    throw new StartupError(
      `TLS certificate ${flags.tlsCert} / key ${flags.tlsKey}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
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

async function run(): Promise<void> {
  const parsed = parseFlags(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    process.stderr.write(`dns-tuner: ${parsed.error}\n`);
    process.exitCode = USAGE_EXIT_CODE;
    return;
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const { flags } = parsed;
  const version = packageVersion();
  const logger: Logger = pino({ level: flags.logLevel, base: { pid: process.pid } });

  const config = await loadConfig(flags.config);
  logger.info(
    { config: flags.config ?? '(built-in)', mode: config.mode, policies: Object.keys(config.policies) },
    'configuration loaded',
  );
  const namespaces = createNamespaceSource(flags);
  const tls = await loadTls(flags);
  if (tls.notAfter.getTime() < Date.now()) logger.warn({ notAfter: tls.notAfter }, 'serving certificate has expired');

  const registry = new Registry();
  const metrics = createMetrics(registry, { version });

  const state = { shuttingDown: false };
  const readiness: ReadinessCheck[] = [
    namespaceSourceCheck(namespaces),
    {
      name: 'certificate',
      check: () =>
        tls.notAfter.getTime() > Date.now()
          ? { ok: true }
          : { ok: false, reason: `serving certificate expired at ${tls.notAfter.toISOString()}` },
    },
    { name: 'shutdown', check: () => (state.shuttingDown ? { ok: false, reason: 'shutting down' } : { ok: true }) },
  ];

  const ops = buildOpsApp({ logger: logger.child({ server: 'ops' }), registry, readiness });
  const webhook = buildWebhookApp({
    logger: logger.child({ server: 'webhook' }),
    getConfig: () => config,
    namespaces,
    metrics,
    https: tls,
  });
  const started: FastifyInstance[] = [];
  const listen = async (app: FastifyInstance, port: number, flag: string, name: string) => {
    try {
      await app.listen({
        host: flags.host,
        port,
        listenTextResolver: (address) => `${name} server listening at ${address}`,
      });
      started.push(app);
      return (app.server.address() as AddressInfo).port;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : String(error);
      throw new StartupError(`cannot listen on ${flags.host}:${port} (${flag}): ${why}`);
    }
  };

  try {
    // Ops first: /livez answers while the namespace source does its first (possibly slow) sync.
    const opsPort = await listen(ops, flags.opsPort, '--ops-port', 'ops');
    await namespaces.start();
    logger.info({ namespaces: namespaces.status().size }, 'namespace source ready');
    const port = await listen(webhook, flags.port, '--port', 'webhook');

    const proto = 'https';
    const webhookUrl = `${proto}://${flags.host}:${port}${MUTATE_PATH}`;
    const opsUrl = `http://${flags.host}:${opsPort}`;
    const curl = tryItCommand(flags, port);
    logger.info(
      {
        webhook: webhookUrl,
        port,
        ops: opsUrl,
        opsPort,
        version,
        certificate: { notAfter: tls.notAfter, san: tls.subjectAltName },
      },
      'listening',
    );
    process.stderr.write(
      [
        `dns-tuner ${version} listening`,
        `  webhook  ${webhookUrl}`,
        `  ops      ${opsUrl}/livez  /readyz  /metrics`,
        'Try it:',
        `  ${curl}`,
        '',
      ].join('\n'),
    );
  } catch (error) {
    await Promise.allSettled([...started.map((app) => app.close()), namespaces.stop()]);
    throw error;
  }

  /** All of shutdown, in order: not ready → drain → stop accepting → finish in-flight reviews → exit. */
  const shutdown = async (signal: NodeJS.Signals) => {
    if (state.shuttingDown) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    state.shuttingDown = true;
    // SIGTERM is the kubelet: endpoints are removed asynchronously after the pod turns Terminating, and until
    // kube-proxy and the apiserver have caught up new reviews still arrive here and must be answered (the readiness
    // check above already fails). SIGINT is a person at a terminal (Ctrl-C on `npm start`): nobody routes to us.
    const drainSeconds = signal === 'SIGTERM' ? flags.drainDelaySeconds : 0;
    logger.info({ signal, drainDelaySeconds: drainSeconds }, 'shutting down');
    await sleep(drainSeconds * 1000);
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: CLOSE_DEADLINE_MS }, 'close deadline passed, exiting');
      process.exit(1);
    }, CLOSE_DEADLINE_MS);
    deadline.unref();
    await webhook.close(); // in-flight reviews finish; idle keep-alive connections are closed
    await ops.close();
    await namespaces.stop();
    logger.info('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      shutdown(signal).catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
    });
  }
}

try {
  await run();
} catch (error) {
  const expected = error instanceof StartupError || error instanceof ConfigError || error instanceof NamespaceFileError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`dns-tuner: ${expected ? message : `start-up failed: ${message}`}\n`);
  process.exit(1);
}
