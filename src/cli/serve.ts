/**
 * `dns-tuner serve` (and `node dist/main.js`, the image's entrypoint): flags → start → banner → wait for a signal →
 * stop → exit code. stdout carries JSON log lines only; the human banner goes to stderr.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { EXIT_BAD_INPUT, EXIT_FAILED, isExpected } from '../errors.ts';
import { MUTATE_PATH } from '../http/webhook-app.ts';
import { CLOSE_DEADLINE_MS } from '../server/lifecycle.ts';
import { createLogger, PACKAGE_ROOT, type RunningServer, startServer } from '../server/start.ts';
import { type Flags, parseFlags, usage } from './flags.ts';

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
    relative(process.cwd(), join(PACKAGE_ROOT, 'examples', 'admission-review.json')) || 'admission-review.json';
  return `curl ${trust} -H 'Content-Type: application/json' --data @${shellQuote(example)} https://${host}:${port}${MUTATE_PATH}`;
}

function banner(flags: Flags, app: RunningServer): string {
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

/** Runs the server until a signal; ends the process with its exit code. */
export async function runServe(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<never> {
  const parsed = parseFlags(argv, env);
  if (!parsed.ok) {
    process.stderr.write(`dns-tuner: ${parsed.error}\n`);
    process.exit(EXIT_BAD_INPUT);
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  const { flags, origins } = parsed;
  const logger = createLogger(flags);
  let app: RunningServer;
  try {
    app = await startServer(flags, { env, origins, logger });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`dns-tuner: ${isExpected(error) ? message : `start-up failed: ${message}`}\n`);
    process.exit(EXIT_FAILED);
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
