#!/usr/bin/env node
/**
 * The `dns-tuner` command (package.json `bin`): subcommands for people, next to the webhook server (dist/main.js).
 * `dns-tuner explain -f deploy.yaml` shows what the webhook would do to a workload (./explain.ts).
 */
import { EXIT_BAD_INPUT, EXIT_OK, EXPLAIN_USAGE, runExplain } from './explain.ts';

const USAGE = `Usage: dns-tuner <command> [options]

Commands
  explain   what the webhook would do to a Pod or workload, and why (dns-tuner explain --help)
  help      this text

The webhook server itself is started with: node dist/main.js --help
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  switch (command) {
    case 'explain':
      return runExplain(rest, io);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(rest[0] === 'explain' ? EXPLAIN_USAGE : USAGE);
      return EXIT_OK;
    case undefined:
      process.stderr.write(USAGE);
      return EXIT_BAD_INPUT;
    default:
      process.stderr.write(`dns-tuner: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return EXIT_BAD_INPUT;
  }
}

// exitCode, not exit(): stdout may still be draining into a pipe (dns-tuner explain … | less).
process.exitCode = await main(process.argv.slice(2));
