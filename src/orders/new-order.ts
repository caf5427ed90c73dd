/**
 * A new order's rows, built from a validated draft and its totals: what the
 * repository writes in one statement. And the rule that the caller's total
 * must be the one the items, shipping and tax add up to.
 */
import { AppError, ErrorCode } from '../errors/app-error';
import type { computeTotals, OrderDraft } from './create-order.validation';
import { formatMinor } from './money';
import { newOrderId } from './order-id';
import type { NewOrder } from './order.rows';

/** The order row and its item rows; the number comes from the counter when they are written. */
export function buildNewOrder(
  draft: OrderDraft,
  totals: ReturnType<typeof computeTotals>,
  now: Date,
): Pick<NewOrder, 'order' | 'items'> {
  const money = (minor: bigint) => formatMinor(minor, draft.currency);
  const order: NewOrder['order'] = {
    id: newOrderId(now),
    customerId: draft.customerId,
    status: 'pending',
    currency: draft.currency.code,
    subtotal: money(totals.subtotal),
    shipping: money(draft.shippingMinor),
    tax: money(draft.taxMinor),
    total: money(totals.total),
    shippingAddress: draft.shippingAddress ?? null,
    billingAddress: draft.billingAddress ?? null,
    notes: draft.notes ?? null,
    // An empty object is no metadata, as an update that removes the last key leaves none: the order
    // then has none to answer, like an address of no fields. (The draft keeps it, so the idempotency
    // fingerprints of requests stored before this stay the same.)
    metadata: draft.metadata && Object.keys(draft.metadata).length > 0 ? draft.metadata : null,
    trackingNumber: null,
    trackingUrl: null,
    statusHistory: [{ status: 'pending', timestamp: now.toISOString() }],
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  const items = draft.items.map((item, position) => ({
    position,
    productId: item.productId,
    name: item.name ?? null,
    quantity: item.quantity,
    price: money(item.priceMinor),
    sku: item.sku ?? null,
    subtotal: money(totals.itemSubtotals[position] ?? 0n),
  }));
  return { order, items };
}

/** TOTAL_MISMATCH, naming the total it must be and how it adds up. */
export function assertTotalMatches(draft: OrderDraft, computedTotal: bigint): void {
  if (draft.totalMinor === computedTotal) return;
  const money = (minor: bigint) => formatMinor(minor, draft.currency);
  const subtotal = computedTotal - draft.shippingMinor - draft.taxMinor;
  throw new AppError(
    ErrorCode.TOTAL_MISMATCH,
    `total ${money(draft.totalMinor)} does not match the expected total ${money(computedTotal)} ` +
      `(items ${money(subtotal)} + shipping ${money(draft.shippingMinor)} + tax ${money(draft.taxMinor)})`,
    [{ path: ['total'], message: `must be ${money(computedTotal)}` }],
  );
}
