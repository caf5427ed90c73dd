import { defineConfig } from 'vitest/config';

/**
 * The browser tests (`npm run test:e2e`): a real server process and headless
 * Chromium. Kept apart from `npm test`, which needs no browser.
 */
export default defineConfig({
  resolve: {
    alias: [
      { find: /^graphql$/, replacement: 'graphql/index.js' },
      { find: /^graphql-query-complexity$/, replacement: 'graphql-query-complexity/cjs' },
    ],
  },
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/support/setup.ts'],
    // Fails the run if a process started by a test is still running after it.
    globalSetup: ['test/support/global-setup.ts'],
  },
});
