import { defineConfig } from 'vitest/config';

/**
 * The slow tier (`npm run test:slow`): many processes or thousands of cases,
 * in files named `*.slow.test.ts`. `npm test` leaves them out; `.ci/run` runs
 * them on both databases.
 */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^graphql$/, replacement: 'graphql/index.js' },
      { find: /^graphql-query-complexity$/, replacement: 'graphql-query-complexity/cjs' },
    ],
  },
  test: {
    include: ['test/**/*.slow.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    setupFiles: ['test/support/setup.ts'],
    // Fails the run if a process started by a test is still running after it.
    globalSetup: ['test/support/global-setup.ts'],
  },
});
