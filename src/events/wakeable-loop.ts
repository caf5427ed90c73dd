/**
 * How often a loop whose rounds keep failing reports it: a database outage failed every round of
 * the relay and the webhook dispatcher, each logging a stack every poll (every second) in every
 * process. The first failure after a success is reported at once.
 */
export const FAILURE_REPORT_INTERVAL_MS = 10_000;

/**
 * A background worker's loop: rounds that never overlap, run when woken and
 * every `pollIntervalMs`; a wake during a round causes one more round. A
 * round that throws is reported (`onError`, at most once per
 * `FAILURE_REPORT_INTERVAL_MS` while rounds keep failing, with how many
 * failures it left out) and retried at the next wake or poll.
 *
 * With `batchDelayMs`, a round starts that long after the wake that asked for
 * it, so that the wakes of a busy moment (one per commit) share one round
 * instead of each paying for its own queries.
 */
export class WakeableLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private polled = false;
  /** When the last failure was reported, and how many were not since (both cleared by a round that succeeds). */
  private reportedAt?: number;
  private unreported = 0;

  constructor(
    /** One round (`polled`: the poll timer asked for it); resolves true when there may be more work right away. */
    private readonly round: (polled: boolean) => Promise<boolean>,
    private readonly pollIntervalMs: number,
    /** `failuresNotReported`: failed rounds since the last report, which were not reported. */
    private readonly onError: (error: unknown, failuresNotReported: number) => void,
    private readonly batchDelayMs = 0,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      this.polled = true;
      this.wake();
    }, this.pollIntervalMs);
    this.timer.unref();
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    this.again = true;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops the timer and waits for the round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async run(): Promise<void> {
    while (this.again && !this.stopped) {
      if (this.batchDelayMs > 0)
        await new Promise((resolve) => setTimeout(resolve, this.batchDelayMs).unref());
      if (this.stopped) return;
      this.again = false;
      const polled = this.polled;
      this.polled = false;
      try {
        if (await this.round(polled)) this.again = true;
        this.reportedAt = undefined;
        this.unreported = 0;
      } catch (error) {
        this.report(error);
      }
    }
  }

  private report(error: unknown): void {
    const now = this.now();
    if (this.reportedAt !== undefined && now - this.reportedAt < FAILURE_REPORT_INTERVAL_MS) {
      this.unreported++;
      return;
    }
    this.onError(error, this.unreported);
    this.reportedAt = now;
    this.unreported = 0;
  }
}
