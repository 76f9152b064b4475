/**
 * Run as a child process by test/kube/node-http.test.ts (a fresh process): imports the server's composition root and
 * prints which of Node's bundled dependencies were loaded.
 */
await import('../../src/server/start.ts');
// Node's own list of the internal modules it has loaded (undocumented, stable since Node 0.x).
const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
const internal = moduleLoadList.filter((m) => m.startsWith('NativeModule internal/deps/'));
process.stdout.write(`${JSON.stringify(internal)}\n`);
