import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { ALLOWED_MOVES, assertStatusMove } from '../../src/orders/order-status';
import { ORDER_STATUSES, type OrderStatus } from '../../src/orders/order.types';

/** The contract's table (§4), written out independently of the code under test. */
const CONTRACT: Record<OrderStatus, OrderStatus[]> = {
  pending: ['paid', 'processing', 'cancelled'],
  paid: ['processing', 'shipped', 'cancelled', 'refunded'],
  processing: ['shipped', 'cancelled', 'refunded'],
  shipped: ['delivered', 'refunded'],
  delivered: ['refunded'],
  cancelled: [],
  refunded: [],
};

const pairs = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.filter((to) => to !== from).map((to) => [from, to] as const));

describe('the status machine', () => {
  it('matches the contract table exactly', () => {
    expect(ALLOWED_MOVES).toStrictEqual(CONTRACT);
  });

  it.each(pairs.filter(([from, to]) => CONTRACT[from].includes(to)))('allows %s → %s', (from, to) => {
    expect(() => assertStatusMove(from, to)).not.toThrow();
  });

  it.each(pairs.filter(([from, to]) => !CONTRACT[from].includes(to)))('refuses %s → %s with INVALID_STATUS_TRANSITION', (from, to) => {
    let caught: unknown;
    try {
      assertStatusMove(from, to);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    const error = caught as AppError;
    expect(error.code).toBe('INVALID_STATUS_TRANSITION');
    const allowed = CONTRACT[from];
    expect(error.message).toBe(
      allowed.length === 0
        ? `Cannot move the order from ${from} to ${to}: ${from} is final`
        : `Cannot move the order from ${from} to ${to}; from ${from} it can move to ${allowed.join(', ')}`,
    );
    // The field a client shows the refusal on (REST `details`, GraphQL `userErrors.field`).
    expect(error.details).toStrictEqual([{ path: ['status'], message: error.message }]);
  });
});
