/**
 * Writes a new order in one SQL statement: the workspace's day counter, the
 * order row (numbered from the counter) and its item rows.
 *
 * One statement is atomic on its own, needs one round trip, and holds the
 * counter row's lock only while it runs and commits. Creates in a workspace
 * queue on that lock, so how long it is held bounds their throughput. A
 * statement that fails takes its counter increment with it: no number is
 * used up.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { queryOnePrepared } from '../db/sql';
import type { OrderItemRow, OrderRow } from './order.mapper';
import { ORDER_NUMBER_SQL, orderNumberPrefix } from './order-number';

const INSERT_ORDER = `
with counter as (
  insert into order_number_counters as c (workspace_id, day, last_value) values (?, ?::date, 1)
  on conflict (workspace_id, day) do update set last_value = c.last_value + 1
  returning last_value
), new_order as (
  insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                      shipping_address, billing_address, notes, metadata, status_history, created_at, updated_at)
  select ?, ?, ${ORDER_NUMBER_SQL}, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?::jsonb, ?::jsonb, ?, ?
  from counter
  returning order_number
), new_items as (
  insert into order_items (order_id, position, product_id, name, quantity, price, sku, subtotal)
  select ?, item.position, item.product_id, item.name, item.quantity, item.price, item.sku, item.subtotal
  from jsonb_to_recordset(?::jsonb)
    as item(position int, product_id text, name text, quantity int, price numeric, sku text, subtotal numeric)
)
select order_number from new_order`;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** Inserts the order and its items; returns the order number it was given. */
export async function insertOrder(
  em: EntityManager,
  workspaceId: string,
  day: string,
  order: Omit<OrderRow, 'orderNumber'>,
  items: readonly OrderItemRow[],
): Promise<string> {
  const row = (await queryOnePrepared<{ order_number: string }>(
    em,
    'insert_order',
    INSERT_ORDER,
    [
      workspaceId,
      day,
      order.id,
      workspaceId,
      orderNumberPrefix(day),
      order.customerId,
      order.status,
      order.currency,
      order.subtotal,
      order.shipping,
      order.tax,
      order.total,
      json(order.shippingAddress),
      json(order.billingAddress),
      order.notes ?? null,
      json(order.metadata),
      json(order.statusHistory),
      order.createdAt,
      order.updatedAt,
      order.id,
      JSON.stringify(
        items.map((item) => ({
          position: item.position,
          product_id: item.productId,
          name: item.name ?? null,
          quantity: item.quantity,
          price: item.price,
          sku: item.sku ?? null,
          subtotal: item.subtotal,
        })),
      ),
    ],
  )) as { order_number: string };
  return row.order_number;
}
