// Mutation testing of the pure service-layer rules (StrykerJS): `npm run mutation`
// (or `npx stryker run`). Not part of `npm test` or CI: it runs the unit tests once per
// mutant and takes several minutes. The HTML report lands in reports/mutation/.
// test/outside/mutation-testing.test.ts checks that every file named in `mutate` exists.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.mts' },
  // Money, order numbers, status moves, request validation and limits, idempotency keys.
  mutate: [
    'src/orders/money.ts',
    'src/orders/order-number.ts',
    'src/orders/order-status.ts',
    'src/orders/create-order.validation.ts',
    'src/orders/update-order.validation.ts',
    'src/orders/list-parameters.ts',
    'src/orders/idempotency.ts',
  ],
  coverageAnalysis: 'perTest',
  // A busy 2-core machine: one test runner, and a budget per mutant.
  concurrency: 1,
  timeoutMS: 20_000,
  timeoutFactor: 3,
  dryRunTimeoutMinutes: 15,
  ignoreStatic: true,
  // Error texts are pinned by the tests that matter; mutating every literal would double the run.
  mutator: { excludedMutations: ['StringLiteral'] },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
