/**
 * Work still running, remembered until it settles, so that a shutdown can
 * wait for it (`settle`) before it closes what that work needs: the database
 * for `last_used_at` writes, the event relay for creates and updates.
 */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Returns `work` as it is, remembered until it settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const forget = () => this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** How many are still running. */
  get size(): number {
    return this.pending.size;
  }

  /** Waits for everything started so far to settle, whatever its outcome. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
