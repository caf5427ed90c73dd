import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { parseJsonBody } from '../../src/app/json-body';

describe('parseJsonBody', () => {
  it('reads ordinary bodies like JSON.parse', () => {
    const text = '{"customer_id":"c","items":[{"product_id":"p","quantity":2,"price":99.00}],"total":198,"notes":"1234567890123456789"}';
    expect(parseJsonBody(text)).toStrictEqual(JSON.parse(text));
  });

  it('keeps a number a double cannot hold as its exact literal, instead of rounding it', () => {
    expect(parseJsonBody('{"price":9.9999999999999999,"quantity":12345678901234567890}')).toStrictEqual({
      price: '9.9999999999999999',
      quantity: '12345678901234567890',
    });
  });

  it.each(['{"__proto__":{"polluted":true}}', '{"__proto__":{"polluted":true},"n":1.00000000000000001}'])(
    'keeps __proto__ an own key on either parser: %s',
    (text) => {
      const parsed = parseJsonBody(text) as Record<string, unknown>;
      expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
      expect(Object.keys(parsed)).toContain('__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it.each(['', '{', '{"a":}', "{'a':1}"])('refuses %j as INVALID_JSON', (text) => {
    expect(() => parseJsonBody(text)).toThrow(AppError);
    try {
      parseJsonBody(text);
    } catch (error) {
      expect((error as AppError).code).toBe('INVALID_JSON');
    }
  });
});
