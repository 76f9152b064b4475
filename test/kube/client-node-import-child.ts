/**
 * Run as a child process by test/kube/kubeconfig.test.ts (a fresh module graph): imports the cluster namespace
 * source, loads a kubeconfig, authorizes one request with it, and prints whether @kubernetes/client-node had been
 * resolved after each step, and the Authorization header the request got.
 * Usage: node client-node-import-child.ts KUBECONFIG_FILE
 */

import type { RequestOptions } from 'node:https';
import { registerHooks } from 'node:module';

const resolved: string[] = [];
// Sees import and require() alike.
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    resolved.push(result.url);
    return result;
  },
});
const clientNodeLoaded = () => resolved.some((url) => url.includes('/node_modules/@kubernetes/client-node/'));

const source = await import('../../src/namespaces/cluster-source.ts');
const { connectionOf } = await import('../../src/kube/kubeconfig.ts');
const afterImport = clientNodeLoaded();
const kc = source.loadKubeConfig({ kubeconfig: process.argv[2], env: {} });
const afterLoad = clientNodeLoaded();
const options: RequestOptions = { headers: {} };
let error: string | undefined;
try {
  await connectionOf(kc).authorize(options);
} catch (e) {
  error = e instanceof Error ? e.message : String(e);
}
const afterAuthorize = clientNodeLoaded();
const server = kc.getCurrentCluster()?.server;
const authorization = (options.headers as Record<string, string | undefined>).Authorization;
process.stdout.write(`${JSON.stringify({ afterImport, afterLoad, afterAuthorize, server, authorization, error })}\n`);
