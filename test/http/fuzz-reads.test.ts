/**
 * A sample of the read, list, cursor and GraphQL-argument fuzzing (see
 * test/support/fuzz-reads.ts); the slow tier runs over 10,000 cases of it
 * (fuzz-reads.slow.test.ts).
 */
import { describeReadFuzz } from '../support/fuzz-reads';

describeReadFuzz({ restIds: 60, graphqlIds: 40, listQueries: 80, cursors: 50, graphqlArguments: 60, updates: 40 });
