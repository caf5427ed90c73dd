/**
 * Vitest global set-up for every tier: marks the run so that the teardown can
 * find any process a test left running, kill it, and fail the run; and finds
 * out once whether the optional services answer (see services.ts).
 */
import type { TestProject } from 'vitest/node';
import { markRun, reapRun } from './leftover-processes';
import {
  natsAnswers,
  optionalService,
  POSTGRES_SERVER_URL,
  postgresAnswers,
  redisAnswers,
  REDIS_URL,
  SHARED_NATS_URL,
} from './services';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = markRun();
  project.provide('redis', await optionalService('Redis', REDIS_URL(), redisAnswers));
  project.provide('nats', await optionalService('NATS', SHARED_NATS_URL, natsAnswers));
  project.provide('postgres', await optionalService('PostgreSQL', POSTGRES_SERVER_URL, postgresAnswers));
  return async () => {
    const problem = await reapRun(runId);
    if (problem) {
      process.stderr.write(`\n${problem}\n`);
      process.exitCode = 1;
      throw new Error(problem);
    }
  };
}
