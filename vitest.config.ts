import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Where the tests live that drive programs of the machine, not only Node on loopback: test/resolvers/ (root, network
 * namespaces, dnsmasq, musl-gcc, iptables), test/manifests/ (kubectl kustomize, bash and openssl) and test/monitoring/
 * (promtool, a real Prometheus, kubectl). A test that
 * needs any of those goes in one of these folders (or a new one added here); everything else is `unit`.
 */
const SYSTEM = ['test/resolvers/**/*.test.ts', 'test/manifests/**/*.test.ts', 'test/monitoring/**/*.test.ts'];

export default defineConfig({
  test: {
    // Integration suites start real servers, resolvers in network namespaces and child processes.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // `vitest run` (npm test) runs both; `npm run test:unit` only the first, on every core (--maxWorkers=100%):
    // vitest's default is cores − 1, one worker on a 2-core machine, and these tests mostly wait on sockets, timers
    // and child processes.
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...SYSTEM] },
      },
      { extends: true, test: { name: 'system', include: SYSTEM } },
    ],
  },
});
