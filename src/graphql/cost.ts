/**
 * What a field may cost, for the query cost limit (see
 * `security/graphql-armor.ts`). The cost of a selection is an upper bound on
 * the values its answer can hold: 1 per field, and every list counted at the
 * largest size it can have. A page counts `first` (from a literal or a
 * variable) and an order's items count 500, the most an order may have; a
 * 500-item order is what makes a page heavy.
 */
import type { ComplexityEstimatorArgs } from 'graphql-query-complexity';
import { LIMITS } from '../orders/create-order.schema';
import { LIST_LIMITS } from '../orders/order-filter';
import { ALLOWED_MOVES } from '../orders/order-status';
import type { OrderStatus } from '../orders/order.types';

/** A list of at most `size` entries: each costs its selection. */
export const listCost =
  (size: number) =>
  ({ childComplexity }: ComplexityEstimatorArgs): number =>
    1 + size * childComplexity;

/**
 * A page of `first` orders (the default page when absent). A `first` outside
 * 1 to the largest page costs one entry: the service refuses it before any
 * work, with a message that says which sizes it takes.
 */
export function pageCost({ args, childComplexity }: ComplexityEstimatorArgs): number {
  // A page is `first` orders, or `last` when it is paged backward (with both, at most `first`).
  const first: unknown = args.first ?? args.last;
  if (first === undefined || first === null) return 1 + LIST_LIMITS.defaultLimit * childComplexity;
  if (typeof first === 'number' && Number.isInteger(first) && first >= 1 && first <= LIST_LIMITS.maxLimit) return 1 + first * childComplexity;
  return 1 + childComplexity;
}

/** The most lines an order has. */
export const MAX_ITEMS = LIMITS.items;

/** The longest status history: the longest path through the status moves, plus the first status. */
export const MAX_STATUS_HISTORY = (() => {
  const longest = (status: OrderStatus, seen: Set<OrderStatus>): number =>
    1 + Math.max(0, ...ALLOWED_MOVES[status].filter((next) => !seen.has(next)).map((next) => longest(next, new Set([...seen, next]))));
  return longest('pending', new Set(['pending']));
})();
