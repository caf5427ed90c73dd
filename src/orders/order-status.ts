/** The order status machine (contract §4). */
import { AppError, ErrorCode } from '../errors/app-error';
import type { OrderStatus } from './order.types';

export const ALLOWED_MOVES: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['paid', 'processing', 'cancelled'],
  paid: ['processing', 'shipped', 'cancelled', 'refunded'],
  processing: ['shipped', 'cancelled', 'refunded'],
  shipped: ['delivered', 'refunded'],
  delivered: ['refunded'],
  cancelled: [],
  refunded: [],
};

/** Throws INVALID_STATUS_TRANSITION, saying which moves are allowed, unless `from → to` is one of them. */
export function assertStatusMove(from: OrderStatus, to: OrderStatus): void {
  const allowed = ALLOWED_MOVES[from];
  if (allowed.includes(to)) return;
  const message =
    allowed.length === 0
      ? `Cannot move the order from ${from} to ${to}: ${from} is final`
      : `Cannot move the order from ${from} to ${to}; from ${from} it can move to ${allowed.join(', ')}`;
  throw new AppError(ErrorCode.INVALID_STATUS_TRANSITION, message, [{ path: ['status'], message }]);
}
