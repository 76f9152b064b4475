/** dns-tuner started in this process, the way `node dist/main.js` starts it, for tests and the soak. */
import { parseFlags } from '../src/cli/flags.ts';
import { type RunningServer, type StartOptions, startServer } from '../src/server/start.ts';

/**
 * Starts dns-tuner from command-line flags on loopback, both ports picked by the kernel, with an empty environment
 * (no KUBECONFIG, no ~/.kube/config) and the config and certificate files polled every 0.5 s; `options` win.
 */
export async function startApp(args: string[], options: StartOptions = {}): Promise<RunningServer> {
  const parsed = parseFlags(['--host', '127.0.0.1', '--port', '0', '--ops-port', '0', ...args], {});
  if (!parsed.ok || parsed.help) throw new Error(`bad test flags: ${JSON.stringify(parsed)}`);
  return startServer(parsed.flags, { env: {}, filePollIntervalMs: 500, ...options });
}
