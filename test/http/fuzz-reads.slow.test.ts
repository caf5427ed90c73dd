/**
 * The read, list, cursor and GraphQL-argument fuzzing at full size: over
 * 10,000 cases with no 5xx (see test/support/fuzz-reads.ts). `npm run test:slow`.
 */
import { describe, expect, it } from 'vitest';
import { describeReadFuzz, totalRuns, type ReadFuzzRuns } from '../support/fuzz-reads';

// graphqlIds and updates send two requests a case (order + orderByNumber, and updateOrder).
const RUNS: ReadFuzzRuns = { restIds: 2000, graphqlIds: 1000, listQueries: 2500, cursors: 1500, graphqlArguments: 2000, updates: 1500 };

describe('size', () => {
  it('is at least 10,000 cases', () => {
    expect(totalRuns(RUNS)).toBeGreaterThanOrEqual(10_000);
  });
});

describeReadFuzz(RUNS);
