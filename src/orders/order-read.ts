/**
 * Reads whole orders with one query each: the order's columns plus its items
 * aggregated as JSON (amounts as text, so they stay exact). Reading through
 * plain SQL skips the ORM's identity map and hydration, which dominated the
 * cost of a GET.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { queryAll, queryOne } from '../db/sql';
import { toOrder } from './order.mapper';
import type { Address, JsonObject, Order, OrderStatus } from './order.types';
import type { StoredStatusChange } from './order.entity';

const SELECT_ORDERS = `
select o.id, o.order_number, o.customer_id, o.status, o.currency,
       o.subtotal::text as subtotal, o.shipping::text as shipping, o.tax::text as tax, o.total::text as total,
       o.shipping_address, o.billing_address, o.notes, o.metadata, o.tracking_number, o.tracking_url,
       o.status_history, o.created_at, o.updated_at,
       (select coalesce(jsonb_agg(jsonb_build_object(
                 'position', i.position, 'productId', i.product_id, 'name', i.name, 'quantity', i.quantity,
                 'price', i.price::text, 'sku', i.sku, 'subtotal', i.subtotal::text) order by i.position), '[]'::jsonb)
          from order_items i where i.order_id = o.id) as items
from orders o
where o.workspace_id = ?`;

interface OrderRecord {
  id: string;
  order_number: string;
  customer_id: string;
  status: OrderStatus;
  currency: string;
  subtotal: string;
  shipping: string;
  tax: string;
  total: string;
  shipping_address: Address | null;
  billing_address: Address | null;
  notes: string | null;
  metadata: JsonObject | null;
  tracking_number: string | null;
  tracking_url: string | null;
  status_history: StoredStatusChange[];
  created_at: Date | string;
  updated_at: Date | string;
  items: { position: number; productId: string; name: string | null; quantity: number; price: string; sku: string | null; subtotal: string }[];
}

function fromRecord(record: OrderRecord): Order {
  return toOrder(
    {
      id: record.id,
      orderNumber: record.order_number,
      customerId: record.customer_id,
      status: record.status,
      currency: record.currency,
      subtotal: record.subtotal,
      shipping: record.shipping,
      tax: record.tax,
      total: record.total,
      shippingAddress: record.shipping_address,
      billingAddress: record.billing_address,
      notes: record.notes,
      metadata: record.metadata,
      trackingNumber: record.tracking_number,
      trackingUrl: record.tracking_url,
      statusHistory: record.status_history,
      createdAt: new Date(record.created_at),
      updatedAt: new Date(record.updated_at),
    },
    record.items,
  );
}

/** One order of the workspace by id or by number, or undefined. */
export async function findOrder(
  em: EntityManager,
  workspaceId: string,
  by: { id: string } | { orderNumber: string },
): Promise<Order | undefined> {
  const [sql, value] = 'id' in by ? [`${SELECT_ORDERS} and o.id = ?`, by.id] : [`${SELECT_ORDERS} and o.order_number = ?`, by.orderNumber];
  const record = await queryOne<OrderRecord>(em, sql, [workspaceId, value]);
  return record ? fromRecord(record) : undefined;
}

/** The workspace's orders with these ids, in the order of `ids`. */
export async function findOrdersByIds(em: EntityManager, workspaceId: string, ids: readonly string[]): Promise<Order[]> {
  if (ids.length === 0) return [];
  // The ids travel as one JSON parameter: the query layer would spread a JS array into a list.
  const records = await queryAll<OrderRecord>(em, `${SELECT_ORDERS} and o.id in (select jsonb_array_elements_text(?::jsonb))`, [
    workspaceId,
    JSON.stringify(ids),
  ]);
  const byId = new Map(records.map((record) => [record.id, fromRecord(record)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
