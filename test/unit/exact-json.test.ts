import fc from 'fast-check';
import stringify from 'safe-stable-stringify';
import { describe, expect, it } from 'vitest';
import { ExactNumber, jsonEqual, parseExactJson } from '../../src/shared/exact-json';

/** A copy with every object's keys in reverse order, as a database might hand them back. */
const reversedKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, entry]) => [key, reversedKeys(entry)]));
};

describe('jsonEqual', () => {
  it.each([
    ['objects whose keys come in another order', { a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } }, { b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 }],
    ['an address as jsonb gives it back', { name: 'John Doe', address: '123 Main St', city: 'Jakarta' }, { city: 'Jakarta', name: 'John Doe', address: '123 Main St' }],
    ['an exact number and the same value spelled as PostgreSQL writes it', new ExactNumber('1e21'), new ExactNumber('1000000000000000000000')],
    ['exact numbers with and without trailing fraction zeros', new ExactNumber('12345678901234567890.0'), new ExactNumber('12345678901234567890')],
    ['an exact number and a double of the same value', new ExactNumber('1.50e1'), 15],
    ['zero and minus zero', 0, -0],
    ['a key set to undefined and no key', { a: 1, b: undefined }, { a: 1 }],
    ['null and null', null, null],
  ])('holds for %s', (_name, a, b) => {
    expect(jsonEqual(a, b)).toBe(true);
    expect(jsonEqual(b, a)).toBe(true);
  });

  it.each([
    ['exact numbers one apart', new ExactNumber('12345678901234567890'), new ExactNumber('12345678901234567891')],
    ['an exact number and the double nearest to it', new ExactNumber('12345678901234567890'), 12345678901234567000],
    ['a double and an exact number just past it', 0.1, new ExactNumber('0.10000000000000000001')],
    ['an exact number and the string of its digits', new ExactNumber('12345678901234567890'), '12345678901234567890'],
    ['a number and the string of its digits', 1, '1'],
    ['arrays in another order', [1, 2], [2, 1]],
    ['an array and an object with its indexes as keys', [1], { 0: 1 }],
    ['a missing key and a null one', { a: 1 }, { a: 1, b: null }],
    ['a key and another key', { a: 1 }, { b: 1 }],
    ['an own "__proto__" key and none', JSON.parse('{"__proto__":{}}'), {}],
    ['null and an empty object', null, {}],
    ['an exact number and an object', new ExactNumber('1e21'), { value: '1e21' }],
    ['a value with isLosslessNumber set and that number', { isLosslessNumber: true, value: '1e21' }, new ExactNumber('1e21')],
  ])('fails for %s', (_name, a, b) => {
    expect(jsonEqual(a, b)).toBe(false);
    expect(jsonEqual(b, a)).toBe(false);
  });

  it('agrees with comparing key-sorted JSON text, for any JSON a double holds', () => {
    const json = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(jsonEqual(a, b)).toBe(stringify(a) === stringify(b));
        expect(jsonEqual(a, reversedKeys(a))).toBe(true);
      }),
    );
  });

  it('compares metadata parsed losslessly by value, whichever way its keys and numbers are written', () => {
    const sent = parseExactJson('{"n":12345678901234567890,"e":1e21,"x":{"q":2,"p":1}}');
    const stored = parseExactJson('{"e": 1000000000000000000000, "n": 12345678901234567890, "x": {"p": 1, "q": 2}}');
    expect(jsonEqual(sent, stored)).toBe(true);
    expect(jsonEqual(sent, parseExactJson('{"e": 1000000000000000000001, "n": 12345678901234567890, "x": {"p": 1, "q": 2}}'))).toBe(false);
  });
});
