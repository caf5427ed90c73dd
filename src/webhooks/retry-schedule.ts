/**
 * The webhook retry schedule (events contract §4): the waits before each
 * retry, from WEBHOOK_RETRY_SCHEDULE (parsed in config.ts). Each wait gets
 * ±20 % jitter when it is used, so that the retries of many deliveries that
 * failed together spread out.
 */
/** The wait before retry number `retry` (1-based), jittered; undefined when the schedule is used up. */
export function retryDelay(schedule: readonly number[], retry: number, random: () => number = Math.random): number | undefined {
  const wait = schedule[retry - 1];
  if (wait === undefined) return undefined;
  return Math.round(wait * (0.8 + 0.4 * random()));
}
