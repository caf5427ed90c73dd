/**
 * The REST presenter and the row mapper write orders out field by field, for
 * speed. These tests hold them to what the generic code gave: the presenter to
 * `renameKeys` over the whole order (with amounts as numbers and times as
 * text), the row mapper to an object with exactly the present fields, in
 * `Order`'s field order, which is the order of the keys in JSON.
 */
import { describe, expect, it } from 'vitest';
import type { ItemRecord, OrderRecord } from '../../src/orders/order.rows';
import { toOrder } from '../../src/orders/order.rows';
import type { Order } from '../../src/orders/order.types';
import { timestamp, toRestOrder } from '../../src/rest/order.presenter';
import { renameKeys } from '../../src/shared/case';

/** What the presenter was before it was written out: the whole order renamed. */
function genericRestOrder(order: Order) {
  // `version` is GraphQL's field; REST carries it as the ETag header, not in the body.
  const { version: _version, ...rest } = order;
  return renameKeys(
    {
      ...rest,
      items: order.items.map((item) => ({
        ...item,
        price: Number(item.price),
        subtotal: Number(item.subtotal),
      })),
      subtotal: Number(order.subtotal),
      shipping: Number(order.shipping),
      tax: Number(order.tax),
      total: Number(order.total),
      statusHistory: order.statusHistory.map((change) => ({
        status: change.status,
        timestamp: timestamp(change.timestamp),
      })),
      createdAt: timestamp(order.createdAt),
      updatedAt: timestamp(order.updatedAt),
    },
    'snake',
  );
}

const at = new Date('2026-12-02T10:20:30.456Z');

const bare: OrderRecord = {
  id: 'order_1',
  orderNumber: 'ORD-20261202-0001',
  customerId: 'contact_1',
  status: 'pending',
  subtotal: '227.00',
  shipping: '0.00',
  tax: '0.00',
  total: '227.00',
  currency: 'USD',
  shippingAddress: null,
  billingAddress: null,
  notes: null,
  metadata: null,
  trackingNumber: null,
  trackingUrl: null,
  statusHistory: [{ status: 'pending', timestamp: at.toISOString() }],
  createdAt: at,
  updatedAt: at,
  version: 1,
} as unknown as OrderRecord;

const full: OrderRecord = {
  ...bare,
  status: 'shipped',
  shippingAddress: { name: 'John Doe', postalCode: '12345', country: 'ID' },
  billingAddress: { company: 'Acme', address2: 'Floor 2' },
  notes: 'Please gift wrap this order',
  metadata: { campaignId: 'x', nested_key: { innerKey: [1, { deepKey: true }] } },
  trackingNumber: 'JNE123',
  trackingUrl: 'https://track.example/JNE123',
  statusHistory: [
    { status: 'pending', timestamp: at.toISOString() },
    { status: 'shipped', timestamp: '2026-12-02T11:00:00.000Z' },
  ],
  updatedAt: new Date('2026-12-02T11:00:00.000Z'),
  version: 2,
} as unknown as OrderRecord;

const items: ItemRecord[] = [
  {
    position: 1,
    productId: 'prod_001',
    name: 'Premium Widget',
    quantity: 2,
    price: '99.00',
    sku: 'WGT-PRE',
    subtotal: '198.00',
  },
  { position: 2, productId: 'prod_002', name: null, quantity: 1, price: '29.5', sku: null, subtotal: '29.5' },
];

/** `Order`'s fields in their declared order, and those a row may lack. */
const ORDER_KEYS =
  `id orderNumber customerId status items subtotal shipping tax total currency shippingAddress
  billingAddress notes metadata trackingNumber trackingUrl statusHistory createdAt updatedAt version`.split(/\s+/);
const OPTIONAL_KEYS = new Set([
  'shippingAddress',
  'billingAddress',
  'notes',
  'metadata',
  'trackingNumber',
  'trackingUrl',
]);

describe('toOrder', () => {
  it('leaves absent what the row holds as null, and keeps the field order of Order', () => {
    const order = toOrder(bare, items);
    expect(Object.keys(order)).toEqual(ORDER_KEYS.filter((key) => !OPTIONAL_KEYS.has(key)));
    // The first row has every column; its item is the row without its position.
    expect(order.items[0]).toStrictEqual(
      Object.fromEntries(Object.entries(items[0]).filter(([key]) => key !== 'position')),
    );
    expect(order.items[1]).toStrictEqual({
      productId: 'prod_002',
      quantity: 1,
      price: '29.50',
      subtotal: '29.50',
    });
  });

  it('carries every optional field that is there, in the order of Order', () => {
    const order = toOrder(full, items);
    expect(Object.keys(order)).toEqual(ORDER_KEYS);
    expect(order.statusHistory[1]).toStrictEqual({
      status: 'shipped',
      timestamp: new Date('2026-12-02T11:00:00.000Z'),
    });
    expect(order.metadata).toBe(full.metadata);
  });
});

describe('toRestOrder', () => {
  it.each([
    ['no optional field', bare, items],
    ['every optional field', full, items],
    ['no items', full, []],
  ])('writes what the generic renaming wrote, key for key and in the same order (%s)', (_, record, lines) => {
    const order = toOrder(record, lines);
    const rest = toRestOrder(order);
    expect(rest).toStrictEqual(genericRestOrder(order));
    expect(JSON.stringify(rest)).toBe(JSON.stringify(genericRestOrder(order)));
  });

  it('writes amounts as numbers, times to the second, and metadata keys as the caller wrote them', () => {
    const rest = toRestOrder(toOrder(full, items));
    expect(rest.items[1]).toStrictEqual({ product_id: 'prod_002', quantity: 1, price: 29.5, subtotal: 29.5 });
    expect(rest.shipping_address).toStrictEqual({ name: 'John Doe', postal_code: '12345', country: 'ID' });
    expect(rest.billing_address).toStrictEqual({ company: 'Acme', address2: 'Floor 2' });
    expect(rest.metadata).toStrictEqual({
      campaignId: 'x',
      nested_key: { innerKey: [1, { deepKey: true }] },
    });
    expect(rest.created_at).toBe('2026-12-02T10:20:30Z');
    expect(rest.status_history.map((change) => change.timestamp)).toEqual([
      '2026-12-02T10:20:30Z',
      '2026-12-02T11:00:00Z',
    ]);
  });
});

describe('timestamp', () => {
  it('cuts the milliseconds without rounding, in every year toISOString writes', () => {
    expect(timestamp(new Date('2026-12-31T23:59:59.999Z'))).toBe('2026-12-31T23:59:59Z');
    expect(timestamp(new Date('2026-01-01T00:00:00.000Z'))).toBe('2026-01-01T00:00:00Z');
    expect(timestamp(new Date(Date.UTC(10000, 0, 1, 0, 0, 0, 500)))).toBe('+010000-01-01T00:00:00Z');
    expect(timestamp(new Date(Date.UTC(-1, 5, 1, 12, 0, 0, 1)))).toBe('-000001-06-01T12:00:00Z');
  });

  it('refuses an invalid date rather than writing one', () => {
    expect(() => timestamp(new Date(Number.NaN))).toThrow(RangeError);
  });
});
