import type { FastifyBaseLogger } from 'fastify';
import type { OrderService } from '../orders/order.service';

/**
 * Deletes expired idempotency keys every `intervalMs`. Every process may run
 * it: the deletes skip rows another process is deleting. Returns a stop function.
 */
export function startIdempotencySweeper(
  orders: OrderService,
  intervalMs: number,
  log: FastifyBaseLogger,
): () => void {
  if (intervalMs <= 0) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    orders
      .sweepExpiredIdempotencyKeys()
      .then((deleted) => {
        if (deleted > 0) log.info({ deleted }, 'deleted expired idempotency keys');
      })
      .catch((error: unknown) =>
        log.warn({ err: error }, 'could not delete expired idempotency keys; will retry'),
      )
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
