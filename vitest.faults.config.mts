import { defineConfig } from 'vitest/config';

/**
 * The slow tests: several gateway processes, a PostgreSQL cluster stopped
 * mid-load, SIGTERM during load. `npm run test:faults`; `.ci/run` runs them.
 */
export default defineConfig({
  resolve: { alias: [
      { find: /^graphql$/, replacement: 'graphql/index.js' },
      { find: /^graphql-query-complexity$/, replacement: 'graphql-query-complexity/cjs' },
    ] },
  test: {
    // crash-consistency kills gateways and a postmaster, and waits out a 30 s lease.
    include: ['test/faults/**/*.test.ts', 'test/outside/crash-consistency.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    setupFiles: ['test/support/setup.ts'],
    // Fails the run if a process started by a test is still running after it.
    globalSetup: ['test/support/global-setup.ts'],
  },
});
