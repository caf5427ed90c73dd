/** A small, bounded HTTP load driver for the fault and multi-process tests (127.0.0.1 only). */

export interface Attempt {
  status: number | 'network-error';
  replayed: boolean;
  body?: { data?: { id: string; order_number: string } };
  at: number;
}

export interface CreateOutcome {
  key: string;
  attempts: Attempt[];
  /** The final 201, if the request ever got one. */
  created?: Attempt;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends one create per key, retrying a failed one with the same key (as a
 * legacy caller that retries on timeouts would) until it gets a 201, up to
 * `maxAttempts` or the deadline.
 */
export async function createWithRetries(options: {
  targets: string[];
  bearer: (index: number) => string;
  count: number;
  concurrency: number;
  keyPrefix: string;
  body: (index: number) => unknown;
  maxAttempts?: number;
  deadline: number;
  onProgress?: (done: number) => void;
}): Promise<CreateOutcome[]> {
  const outcomes: CreateOutcome[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < options.count && Date.now() < options.deadline) {
      const index = next++;
      const target = options.targets[index % options.targets.length];
      const outcome: CreateOutcome = { key: `${options.keyPrefix}-${index}`, attempts: [] };
      outcomes.push(outcome);
      for (let attempt = 0; attempt < (options.maxAttempts ?? 400) && Date.now() < options.deadline; attempt++) {
        const result = await send(target, options.bearer(index), outcome.key, options.body(index));
        outcome.attempts.push(result);
        if (result.status === 201) {
          outcome.created = result;
          break;
        }
        await sleep(result.status === 'network-error' ? 100 : 50);
      }
      options.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return outcomes;
}

async function send(target: string, bearer: string, key: string, body: unknown): Promise<Attempt> {
  try {
    const res = await fetch(`${target}/api/orders`, {
      method: 'POST',
      headers: { authorization: bearer, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return {
      status: res.status,
      replayed: res.headers.get('idempotent-replayed') === 'true',
      body: res.status === 201 ? JSON.parse(text) : undefined,
      at: Date.now(),
    };
  } catch {
    return { status: 'network-error', replayed: false, at: Date.now() };
  }
}
