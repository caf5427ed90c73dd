/** The background loop of the relay, the webhook dispatcher and the schema gate (events/wakeable-loop.ts). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FAILURE_REPORT_INTERVAL_MS, WakeableLoop } from '../../src/events/wakeable-loop';

afterEach(() => {
  vi.useRealTimers();
});

describe('WakeableLoop', () => {
  it('reports rounds that keep failing once per interval, with how many it left out, and the first failure after a success at once', async () => {
    vi.useFakeTimers();
    let failing = true;
    const reports: [string, number][] = [];
    const loop = new WakeableLoop(
      async () => {
        if (failing) throw new Error('the database is down');
        return false;
      },
      1000,
      (error, left) => reports.push([(error as Error).message, left]),
    );
    loop.start();
    // 25 s of an outage at one round a second: the first failure, then one report each 10 s.
    await vi.advanceTimersByTimeAsync(25_000);
    expect(reports).toStrictEqual([
      ['the database is down', 0],
      ['the database is down', 9],
      ['the database is down', 9],
    ]);
    failing = false;
    await vi.advanceTimersByTimeAsync(1000);
    failing = true;
    await vi.advanceTimersByTimeAsync(1000);
    // Back, then down again: the new failure is reported at once.
    expect(reports).toHaveLength(4);
    expect(reports[3]).toStrictEqual(['the database is down', 0]);
    expect(FAILURE_REPORT_INTERVAL_MS).toBe(10_000);
    await loop.stop();
  });
});
