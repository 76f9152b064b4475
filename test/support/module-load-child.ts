/**
 * Run as a child process by test/kube/node-http.test.ts (a fresh process): imports the server's composition root and
 * prints which of Node's bundled dependencies were loaded.
 */
await import('../../src/server/start.ts');
const internal = process.moduleLoadList.filter((m) => m.startsWith('NativeModule internal/deps/'));
process.stdout.write(`${JSON.stringify(internal)}\n`);
