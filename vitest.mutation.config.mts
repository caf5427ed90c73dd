import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

// For mutation testing (stryker.config.mjs): the unit tests of the mutated rules, which need no
// database. test/outside/mutation-testing.test.ts checks each mutated file has one here.
export const MUTATION_TESTS = [
  'test/unit/money.test.ts',
  'test/unit/order-number.test.ts',
  'test/unit/order-status.test.ts',
  'test/unit/create-order.validation.test.ts',
  'test/unit/update-order.validation.test.ts',
  'test/unit/order-list-input.test.ts',
  'test/unit/idempotency.test.ts',
];

// Spread, not mergeConfig: that would append this list to the suite's own `include`.
export default defineConfig({ ...base, test: { ...base.test, include: MUTATION_TESTS } });
