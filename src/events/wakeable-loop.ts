/**
 * A background worker's loop: rounds that never overlap, run when woken and
 * every `pollIntervalMs`; a wake during a round causes one more round. A
 * round that throws is logged and retried at the next wake or poll.
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

  constructor(
    /** One round (`polled`: the poll timer asked for it); resolves true when there may be more work right away. */
    private readonly round: (polled: boolean) => Promise<boolean>,
    private readonly pollIntervalMs: number,
    private readonly onError: (error: unknown) => void,
    private readonly batchDelayMs = 0,
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
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
