import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { parseJsonBody } from '../../src/app/json-body';
import { ExactNumber, scanJsonText } from '../../src/shared/exact-json';

describe('parseJsonBody', () => {
  it('reads ordinary bodies like JSON.parse', () => {
    const text = '{"customer_id":"c","items":[{"product_id":"p","quantity":2,"price":99.00}],"total":198,"notes":"1234567890123456789"}';
    expect(parseJsonBody(text)).toStrictEqual(JSON.parse(text));
  });

  it('keeps a number a double cannot hold as its exact literal, instead of rounding it', () => {
    expect(parseJsonBody('{"price":9.9999999999999999,"quantity":12345678901234567890}')).toStrictEqual({
      price: new ExactNumber('9.9999999999999999'),
      quantity: new ExactNumber('12345678901234567890'),
    });
  });

  it.each([
    ['1e400', new ExactNumber('1e400')],
    ['1E-400', new ExactNumber('1E-400')],
    ['1e21', new ExactNumber('1e21')],
    ['1e2', 100],
    ['1.5', 1.5],
  ])('reads the short literal %s exactly, although JSON.parse would not (Infinity, 0)', (literal, expected) => {
    expect(parseJsonBody(`{"n":${literal},"t":true,"f":false}`)).toStrictEqual({ n: expected, t: true, f: false });
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

  it.each([
    ['{"customer_id":"c","customer_id":"d"}', "Duplicate key 'customer_id'"],
    ['{"items":[{"price":1,"price":2}]}', "Duplicate key 'price'"],
    ['{"n":12345678901234567890,"total":1,"total":2}', "Duplicate key 'total'"],
    ['{"a":1,"a":1}', 'gives a key twice in one object'],
    ['{"m":{"k:":":","k:":":"}}', 'gives a key twice in one object'],
  ])('refuses a key given twice in one object, which JSON.parse drops without a word: %s', (text, message) => {
    expect(() => parseJsonBody(text)).toThrow(message);
    try {
      parseJsonBody(text);
    } catch (error) {
      expect((error as AppError).code).toBe('INVALID_JSON');
    }
  });

  it('reads one key in two objects, and colons inside strings, as no duplicate', () => {
    expect(parseJsonBody('{"a":{"k":"x:y"},"b":{"k":":"},"c":[{"k":1},{"k":2}]}')).toStrictEqual({
      a: { k: 'x:y' },
      b: { k: ':' },
      c: [{ k: 1 }, { k: 2 }],
    });
  });

  it('refuses a number literal longer than 64 characters before parsing, and reads one of 64', () => {
    expect(() => parseJsonBody(`{"n":${'1'.repeat(65)}}`)).toThrow('The request body has a number longer than 64 characters');
    expect(parseJsonBody(`{"n":${'1'.repeat(64)}}`)).toStrictEqual({ n: new ExactNumber('1'.repeat(64)) });
  });
});

describe('scanJsonText', () => {
  it('measures number literals outside strings only, so long digit runs in text keep the fast parser', () => {
    expect(scanJsonText(`{"notes":"${'9'.repeat(1000)}","n":-1.5e+10}`, 64)).toStrictEqual({ tooDeep: false, longestNumber: 8, hasExponent: true, members: 2 });
    expect(scanJsonText('{"a":"\\"}', 64).longestNumber).toBe(0);
  });

  it('measures depth outside strings', () => {
    expect(scanJsonText('[[["[[[[["]]]', 3)).toStrictEqual({ tooDeep: false, longestNumber: 0, hasExponent: false, members: 0 });
    expect(scanJsonText('[[[[]]]]', 3).tooDeep).toBe(true);
  });
});
