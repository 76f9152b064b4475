/**
 * Run as a child process by test/kube/kubeconfig.test.ts (a fresh module graph): imports the cluster namespace
 * source, then loads a kubeconfig, and prints whether @kubernetes/client-node had been resolved after each step.
 * Usage: node client-node-import-child.ts KUBECONFIG_FILE
 */
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
const afterImport = clientNodeLoaded();
const server = source.loadKubeConfig({ kubeconfig: process.argv[2], env: {} }).getCurrentCluster()?.server;
const afterLoad = clientNodeLoaded();
process.stdout.write(`${JSON.stringify({ afterImport, afterLoad, server, modules: resolved.length })}\n`);
