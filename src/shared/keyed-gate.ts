/**
 * At most `limit` tasks at a time for each key; the others wait their turn,
 * first come first served, for at most `maxWaitMs`, then fail with `onTimeout()`.
 *
 * The order service passes every create of a workspace through one (see
 * `OrderService`): all creates of a workspace queue on its order-number
 * counter row in PostgreSQL anyway, and a queue there costs far more than one
 * here (each waiter holds a pool connection and a backend, and is woken and
 * put back to sleep by the row lock), while a queue here leaves the pool to
 * other workspaces and to reads.
 */
export class KeyedGate {
  private readonly keys = new Map<string, { running: number; waiting: ((go: boolean) => void)[] }>();

  constructor(
    private readonly limit: number,
    private readonly maxWaitMs: number,
    private readonly onTimeout: () => Error,
  ) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let entry = this.keys.get(key);
    if (!entry) this.keys.set(key, (entry = { running: 0, waiting: [] }));
    if (entry.running < this.limit) entry.running++;
    else if (!(await this.turn(entry.waiting))) throw this.onTimeout();
    try {
      return await task();
    } finally {
      // The slot goes straight to the next in line, or is given back.
      const next = entry.waiting.shift();
      if (next) next(true);
      else if (--entry.running === 0) this.keys.delete(key);
    }
  }

  /** Tasks running or waiting for `key` (tests). */
  size(key: string): number {
    const entry = this.keys.get(key);
    return entry ? entry.running + entry.waiting.length : 0;
  }

  /** Resolves true when a slot is handed over, false when `maxWaitMs` passes first. */
  private turn(waiting: ((go: boolean) => void)[]): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(go), 1);
        resolve(false);
      }, this.maxWaitMs);
      const go = (value: boolean) => {
        clearTimeout(timer);
        resolve(value);
      };
      waiting.push(go);
    });
  }
}
