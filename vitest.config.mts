import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // type-graphql loads graphql's CommonJS build; the app's own imports must get
    // the same copy, or `instanceof GraphQLScalarType` fails across the two. So must
    // graphql-query-complexity, whose ES module build would import graphql's.
    alias: [
      { find: /^graphql$/, replacement: 'graphql/index.js' },
      { find: /^graphql-query-complexity$/, replacement: 'graphql-query-complexity/cjs' },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The slow tests have their own runs: `npm run test:faults` (vitest.faults.config.mts)
    // and `npm run test:slow` (`*.slow.test.ts`, vitest.slow.config.mts).
    exclude: ['test/faults/**', 'test/outside/crash-consistency.test.ts', 'test/**/*.slow.test.ts', 'node_modules/**'],
    // Each test file opens its own database (an in-memory PGlite, or a fresh
    // database on the server named by DATABASE_URL), so files can run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    setupFiles: ['test/support/setup.ts'],
    // Fails the run if a process started by a test is still running after it.
    globalSetup: ['test/support/global-setup.ts'],
    // Off unless asked for (`--coverage`, README "Coverage"): npm test and CI do not measure it.
    coverage: { provider: 'v8', include: ['src/**'] },
  },
});
