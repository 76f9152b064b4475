import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start real servers, resolvers in network namespaces and child processes.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
