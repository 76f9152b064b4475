#!/usr/bin/env node
/**
 * The `dns-tuner` command (package.json `bin`), one entry point with subcommands:
 *   serve     the webhook server (the image runs it as `node dist/main.js`, the same thing)
 *   explain   what the webhook would do to a workload (./explain.ts), offline or against a running webhook
 *   audit     which running pods are not tuned yet, and what to roll (./audit.ts), through the user's kubeconfig
 * Each subcommand is imported when it runs, so `explain` offline and `audit` never load the HTTP server (Fastify).
 */
import { enableCompileCache } from 'node:module';
import { EXIT_BAD_INPUT, EXIT_OK } from '../errors.ts';

// V8's code cache on disk (in the OS temp directory): a CLI that loads ~200 modules per run starts in about half the
// time from the second run on. Subcommands are imported after this line, so they are all cached.
enableCompileCache();

const USAGE = `Usage: dns-tuner <command> [options]

Commands
  serve     run the webhook (dns-tuner serve --help); the container runs it as node dist/main.js
  explain   what the webhook would do to a Pod or workload, and why (dns-tuner explain --help)
  audit     which running pods are not tuned yet, and what to roll (dns-tuner audit --help)
  help      this text
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  switch (command) {
    case 'serve': {
      const { runServe } = await import('./serve.ts');
      return runServe(rest, process.env);
    }
    case 'explain': {
      const { runExplain } = await import('./explain.ts');
      return runExplain(rest, io);
    }
    case 'audit': {
      const { runAudit } = await import('./audit.ts');
      return runAudit(rest, io, process.env);
    }
    case 'help':
    case '--help':
    case '-h': {
      if (rest[0] === 'explain') process.stdout.write((await import('./explain.ts')).EXPLAIN_USAGE);
      else if (rest[0] === 'audit') process.stdout.write((await import('./audit.ts')).AUDIT_USAGE);
      else if (rest[0] === 'serve') process.stdout.write(`${(await import('./flags.ts')).usage()}\n`);
      else process.stdout.write(USAGE);
      return EXIT_OK;
    }
    case undefined:
      process.stderr.write(USAGE);
      return EXIT_BAD_INPUT;
    default:
      process.stderr.write(`dns-tuner: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return EXIT_BAD_INPUT;
  }
}

// A reader that stops early (`dns-tuner explain … | head`) closes the pipe: nothing more to say, and no stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

// exitCode, not exit(): stdout may still be draining into a pipe (dns-tuner explain … | less).
process.exitCode = await main(process.argv.slice(2));
