/**
 * The image's entrypoint (`node dist/main.js [flags]`): the same as `dns-tuner serve [flags]`. The program itself is
 * src/cli/dns-tuner.ts; the composition root is src/server/start.ts.
 */
import { runServe } from './cli/serve.ts';

await runServe(process.argv.slice(2), process.env);
