import { describe, expect, it } from 'vitest';
import { camelToSnake, renameKeys, snakeToCamel } from '../../src/shared/case';

describe('renameKeys', () => {
  it.each([
    ['postalCode', 'postal_code'],
    ['address2', 'address2'],
    ['statusHistory', 'status_history'],
    ['id', 'id'],
  ])('%s ⇄ %s', (camel, snake) => {
    expect(camelToSnake(camel)).toBe(snake);
    expect(snakeToCamel(snake)).toBe(camel);
  });

  it('renames nested objects and arrays, and leaves metadata keys as the caller wrote them', () => {
    const at = new Date('2025-03-27T15:00:00Z');
    const order = {
      orderNumber: 'ORD-1',
      shippingAddress: { postalCode: '12345' },
      items: [{ productId: 'p', unitPrice: '1.00' }],
      statusHistory: [{ status: 'pending', timestamp: at }],
      metadata: { someKey: { deepKey: 1 }, snake_key: [{ innerKey: true }] },
    };
    const snake = renameKeys(order, 'snake');
    expect(snake).toStrictEqual({
      order_number: 'ORD-1',
      shipping_address: { postal_code: '12345' },
      items: [{ product_id: 'p', unit_price: '1.00' }],
      status_history: [{ status: 'pending', timestamp: at }],
      metadata: { someKey: { deepKey: 1 }, snake_key: [{ innerKey: true }] },
    });
    expect(snake.status_history[0]?.timestamp).toBe(at);
    expect(renameKeys(snake, 'camel')).toStrictEqual(order);
  });

  it('leaves out undefined values and keeps nulls (absent means keep, null means clear)', () => {
    expect(renameKeys({ trackingNumber: undefined, trackingUrl: null, notes: 'n' }, 'snake')).toStrictEqual({
      tracking_url: null,
      notes: 'n',
    });
  });

  it('keeps a __proto__ key as an ordinary key', () => {
    const metadata = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const renamed = renameKeys({ metaData: JSON.parse('{"__proto__": 1}') as object, metadata }, 'snake');
    expect(Object.keys(renamed.meta_data)).toStrictEqual(['__proto__']);
    expect(Object.keys(renamed.metadata)).toStrictEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
