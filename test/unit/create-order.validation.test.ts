import { describe, expect, it } from 'vitest';
import { AppError, type FieldError, type FieldPath } from '../../src/errors/app-error';
import { ADDRESS_FIELDS, LIMITS } from '../../src/orders/create-order.schema';
import { snakeToCamel } from '../../src/shared/case';
import {
  computeTotals,
  type OrderDraft,
  parseCreateOrderRequest,
} from '../../src/orders/create-order.validation';

type Body = Record<string, unknown>;

function item(overrides: Body = {}): Body {
  return { product_id: 'prod_1', quantity: 1, price: '10.00', ...overrides };
}

function request(overrides: Body = {}): Body {
  return { customer_id: 'cust_1', items: [item()], total: '10.00', ...overrides };
}

function withItem(overrides: Body): Body {
  return request({ items: [item(overrides)] });
}

/** Calls `fn`, requires it to throw a VALIDATION_ERROR AppError, and returns that error. */
function validationError(fn: () => unknown): AppError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(AppError);
  const error = caught as AppError;
  expect(error.code).toBe('VALIDATION_ERROR');
  return error;
}

function expectRejected(body: unknown, details: FieldError[]): AppError {
  const error = validationError(() => parseCreateOrderRequest(body));
  expect(error.details).toEqual(details);
  return error;
}

function draftOf(body: unknown): OrderDraft {
  return parseCreateOrderRequest(body);
}

const x = (n: number) => 'x'.repeat(n);

/**
 * Every limit of the contract (§2), at the bound and one past it: a table
 * over LIMITS, so that changing a limit changes what is tested.
 */
describe('parseCreateOrderRequest: limits, at the bound and one past it', () => {
  const lengths: [string, (value: string) => Body, FieldPath, number, number][] = [
    ['customer_id', (value) => request({ customer_id: value }), ['customer_id'], 1, LIMITS.customerId],
    [
      'items[].product_id',
      (value) => withItem({ product_id: value }),
      ['items', 0, 'product_id'],
      1,
      LIMITS.productId,
    ],
    ['items[].name', (value) => withItem({ name: value }), ['items', 0, 'name'], 0, LIMITS.itemName],
    ['items[].sku', (value) => withItem({ sku: value }), ['items', 0, 'sku'], 0, LIMITS.sku],
    ['notes', (value) => request({ notes: value }), ['notes'], 0, LIMITS.notes],
  ];
  it.each(lengths)('%s: %i to %i characters', (_field, body, path, min, max) => {
    expect(() => draftOf(body(x(max)))).not.toThrow();
    expectRejected(body(x(max + 1)), [{ path, message: `must be at most ${max} characters` }]);
    if (min === 0) return;
    expect(() => draftOf(body(x(min)))).not.toThrow();
    expectRejected(body(x(min - 1)), [{ path, message: 'must not be empty' }]);
  });

  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  const counts: [string, (n: number) => Body, FieldPath, number, string, number, string][] = [
    [
      'items',
      (n) => request({ items: Array.from({ length: n }, (_, i) => item({ product_id: `p${i}` })) }),
      ['items'],
      1,
      'must have at least 1 item',
      LIMITS.items,
      `must have at most ${LIMITS.items} items`,
    ],
    [
      'items[].quantity',
      (n) => withItem({ quantity: n }),
      ['items', 0, 'quantity'],
      1,
      'must be at least 1',
      LIMITS.quantity,
      `must be at most ${LIMITS.quantity}`,
    ],
    [
      'metadata keys',
      (n) => request({ metadata: keys(n) }),
      ['metadata'],
      0,
      '',
      LIMITS.metadataKeys,
      `must have at most ${LIMITS.metadataKeys} keys`,
    ],
  ];
  it.each(counts)('%s: %i … %i', (_field, body, path, min, tooFew, max, tooMany) => {
    expect(() => draftOf(body(max))).not.toThrow();
    expectRejected(body(max + 1), [{ path, message: tooMany }]);
    if (min === 0) return;
    expect(() => draftOf(body(min))).not.toThrow();
    expectRejected(body(min - 1), [{ path, message: tooFew }]);
  });
});

describe('parseCreateOrderRequest: a minimal valid request', () => {
  it('becomes a draft with USD defaults and minor units', () => {
    expect(draftOf(request())).toEqual({
      customerId: 'cust_1',
      currency: { code: 'USD', exponent: 2 },
      items: [{ productId: 'prod_1', quantity: 1, priceMinor: 1000n }],
      shippingMinor: 0n,
      taxMinor: 0n,
      totalMinor: 1000n,
    });
  });

  it('summarises a single bad field in the error message', () => {
    const error = expectRejected(request({ customer_id: '' }), [
      { path: ['customer_id'], message: 'must not be empty' },
    ]);
    expect(error.message).toBe('Invalid request: customer_id must not be empty');
  });
});

describe('parseCreateOrderRequest: body', () => {
  it.each([null, undefined, [], [request()], 'order', 42, true])(
    'rejects the non-object body %j with path [body]',
    (body) => {
      expectRejected(body, [{ path: ['body'], message: 'must be a JSON object' }]);
    },
  );
});

describe('parseCreateOrderRequest: customer_id (1–128 chars)', () => {
  it('is required', () => {
    const body = request();
    delete body.customer_id;
    expectRejected(body, [{ path: ['customer_id'], message: 'is required' }]);
  });

  it.each([null, 42])('must be a string, not %j', (value) => {
    expectRejected(request({ customer_id: value }), [{ path: ['customer_id'], message: 'must be a string' }]);
  });
});

describe('parseCreateOrderRequest: items (1–500)', () => {
  it('is required', () => {
    const body = request();
    delete body.items;
    expectRejected(body, [{ path: ['items'], message: 'is required' }]);
  });

  it('must be an array', () => {
    expectRejected(request({ items: item() }), [{ path: ['items'], message: 'must be an array' }]);
  });

  it('names the index of a bad item', () => {
    expectRejected(request({ items: [item(), item(), item({ product_id: '' })] }), [
      { path: ['items', 2, 'product_id'], message: 'must not be empty' },
    ]);
  });
});

describe('parseCreateOrderRequest: items[].product_id (1–128 chars)', () => {
  it('is required', () => {
    const bad = item();
    delete bad.product_id;
    expectRejected(request({ items: [bad] }), [{ path: ['items', 0, 'product_id'], message: 'is required' }]);
  });
});

describe('parseCreateOrderRequest: items[].name (≤ 500 chars)', () => {
  it('counts characters, not UTF-16 code units: 500 emoji are accepted', () => {
    expect(draftOf(withItem({ name: '😀'.repeat(500) })).items[0]?.name).toBe('😀'.repeat(500));
  });

  it('rejects 501 emoji', () => {
    expectRejected(withItem({ name: '😀'.repeat(501) }), [
      { path: ['items', 0, 'name'], message: 'must be at most 500 characters' },
    ]);
  });
});

describe('parseCreateOrderRequest: items[].quantity (integer 1 … 1,000,000)', () => {
  it.each([1.5, '1'])('rejects the non-integer %j', (quantity) => {
    expectRejected(withItem({ quantity }), [
      { path: ['items', 0, 'quantity'], message: 'must be an integer' },
    ]);
  });

  it('is required', () => {
    const bad = item();
    delete bad.quantity;
    expectRejected(request({ items: [bad] }), [{ path: ['items', 0, 'quantity'], message: 'is required' }]);
  });
});

/**
 * The money rules, one table for every amount field: at least 0, at most the
 * currency's minor digits, a JSON number or a decimal string.
 */
describe('parseCreateOrderRequest: amounts', () => {
  const FIELDS: [
    string,
    (amount: unknown, currency?: string) => Body,
    FieldPath,
    (draft: OrderDraft) => bigint | undefined,
  ][] = [
    [
      'items[].price',
      (amount, currency) => request({ currency, items: [item({ price: amount })] }),
      ['items', 0, 'price'],
      (d) => d.items[0]?.priceMinor,
    ],
    [
      'total',
      (amount, currency) => request({ currency, items: [item({ price: 0 })], total: amount }),
      ['total'],
      (d) => d.totalMinor,
    ],
    [
      'shipping',
      (amount, currency) => request({ currency, shipping: amount }),
      ['shipping'],
      (d) => d.shippingMinor,
    ],
    ['tax', (amount, currency) => request({ currency, tax: amount }), ['tax'], (d) => d.taxMinor],
  ];
  const CASES: [unknown, string, bigint | string][] = [
    [0, 'USD', 0n],
    [0.01, 'USD', 1n],
    ['99.00', 'USD', 9900n],
    [-0.01, 'USD', 'must be 0 or more'],
    ['-10.00', 'USD', 'must be 0 or more'],
    [9.999, 'USD', 'must have at most 2 decimal places in USD'],
    [150, 'JPY', 150n],
    [1.5, 'JPY', 'must be a whole number in JPY'],
    [1.005, 'KWD', 1005n],
    ['1.0005', 'KWD', 'must have at most 3 decimal places in KWD'],
    ['1e5', 'USD', 'must be a decimal number such as "99.00"'],
    [true, 'USD', 'must be a number or a decimal string'],
    [{}, 'USD', 'must be a number or a decimal string'],
    [[], 'USD', 'must be a number or a decimal string'],
  ];
  const table = FIELDS.flatMap(([field, body, path, minor]) =>
    CASES.map(
      ([amount, currency, expected]) => [field, amount, currency, expected, body, path, minor] as const,
    ),
  );
  it.each(table)('%s = %j in %s → %s', (_field, amount, currency, expected, body, path, minor) => {
    if (typeof expected === 'bigint') expect(minor(draftOf(body(amount, currency)))).toBe(expected);
    else expectRejected(body(amount, currency), [{ path, message: expected }]);
  });

  it.each(['shipping', 'tax'] as const)('%s defaults to 0 when absent', (field) => {
    expect(draftOf(request())[field === 'shipping' ? 'shippingMinor' : 'taxMinor']).toBe(0n);
  });

  it.each([
    ['items[].price', () => request({ items: [{ product_id: 'p', quantity: 1 }] }), ['items', 0, 'price']],
    ['total', () => request({ total: undefined }), ['total']],
  ] as const)('%s is required', (_field, body, path) => {
    expectRejected(JSON.parse(JSON.stringify(body())), [{ path: [...path], message: 'is required' }]);
  });
});

describe('parseCreateOrderRequest: items[].sku (≤ 128 chars)', () => {
  it('must be a string', () => {
    expectRejected(withItem({ sku: 123 }), [{ path: ['items', 0, 'sku'], message: 'must be a string' }]);
  });
});

describe('parseCreateOrderRequest: currency (ISO 4217, default USD, stored upper-case)', () => {
  it('defaults to USD when absent', () => {
    expect(draftOf(request()).currency).toEqual({ code: 'USD', exponent: 2 });
  });

  it('defaults to USD when null', () => {
    expect(draftOf(request({ currency: null })).currency).toEqual({ code: 'USD', exponent: 2 });
  });

  it.each([
    ['idr', 'IDR', 2],
    ['Jpy', 'JPY', 0],
    ['KWD', 'KWD', 3],
  ])('accepts %s and stores it as %s', (given, code, exponent) => {
    expect(draftOf(request({ currency: given, total: '10' })).currency).toEqual({ code, exponent });
  });

  it.each(['XTS', 'XAU', 'XXX', 'ABC', 'US', ''])('rejects %j', (currency) => {
    expectRejected(request({ currency }), [
      { path: ['currency'], message: 'must be an ISO 4217 currency code such as USD' },
    ]);
  });

  it('must be a string', () => {
    expectRejected(request({ currency: 840 }), [{ path: ['currency'], message: 'must be a string' }]);
  });
});

const ADDRESS_TEXT_FIELDS = ADDRESS_FIELDS.filter((field) => field !== 'country');

describe.each(['shipping_address', 'billing_address'] as const)('parseCreateOrderRequest: %s', (field) => {
  const draftKey = field === 'shipping_address' ? 'shippingAddress' : 'billingAddress';

  it.each(ADDRESS_TEXT_FIELDS)('accepts 500 characters in %s', (name) => {
    const draft = draftOf(request({ [field]: { [name]: x(500) } }));
    expect(draft[draftKey]).toStrictEqual({ [snakeToCamel(name)]: x(500) });
  });

  it.each([...ADDRESS_TEXT_FIELDS, 'country'])('rejects 501 characters in %s', (name) => {
    expectRejected(request({ [field]: { [name]: x(501) } }), [
      { path: [field, name], message: 'must be at most 500 characters' },
    ]);
  });

  it('accepts a full address and maps postal_code to postalCode', () => {
    const address = {
      name: 'Budi',
      company: 'PT Contoh',
      address: 'Jl. Sudirman 1',
      address2: 'Lantai 2',
      city: 'Jakarta',
      state: 'DKI Jakarta',
      postal_code: '10220',
      country: 'ID',
      phone: '+62 21 555 0100',
      email: 'budi@example.com',
    };
    expect(draftOf(request({ [field]: address }))[draftKey]).toStrictEqual({
      name: 'Budi',
      company: 'PT Contoh',
      address: 'Jl. Sudirman 1',
      address2: 'Lantai 2',
      city: 'Jakarta',
      state: 'DKI Jakarta',
      postalCode: '10220',
      country: 'ID',
      phone: '+62 21 555 0100',
      email: 'budi@example.com',
    });
  });

  it.each([
    ['ID', 'ID'],
    ['US', 'US'],
    ['id', 'ID'],
  ])('accepts the alpha-2 country %s and stores %s', (country, stored) => {
    expect(draftOf(request({ [field]: { country } }))[draftKey]).toStrictEqual({ country: stored });
  });

  it.each(['ZZ', 'XX', 'I', ''])('rejects the country %j', (country) => {
    expectRejected(request({ [field]: { country } }), [
      { path: [field, 'country'], message: 'must be an ISO 3166-1 alpha-2 country code such as ID' },
    ]);
  });

  it('rejects an unknown field', () => {
    expectRejected(request({ [field]: { city: 'Jakarta', zip: '10220' } }), [
      { path: [field, 'zip'], message: 'is not a known field' },
    ]);
  });

  it('must be an object', () => {
    expectRejected(request({ [field]: 'Jl. Sudirman 1' }), [{ path: [field], message: 'must be an object' }]);
  });

  it('rejects a non-string field', () => {
    expectRejected(request({ [field]: { postal_code: 10220 } }), [
      { path: [field, 'postal_code'], message: 'must be a string' },
    ]);
  });
});

describe('parseCreateOrderRequest: metadata', () => {
  it('accepts a 40-character key', () => {
    expect(draftOf(request({ metadata: { [x(40)]: 1 } })).metadata).toEqual({ [x(40)]: 1 });
  });

  it('rejects a 41-character key, naming it', () => {
    expectRejected(request({ metadata: { ok: 1, [x(41)]: 1 } }), [
      { path: ['metadata', x(41)], message: 'key must be 1 to 40 characters' },
    ]);
  });

  it('accepts a 40-emoji key and rejects a 41-emoji one', () => {
    expect(draftOf(request({ metadata: { ['😀'.repeat(40)]: 1 } })).metadata).toEqual({
      ['😀'.repeat(40)]: 1,
    });
    expectRejected(request({ metadata: { ['😀'.repeat(41)]: 1 } }), [
      { path: ['metadata', '😀'.repeat(41)], message: 'key must be 1 to 40 characters' },
    ]);
  });

  it('rejects an empty key', () => {
    expectRejected(request({ metadata: { '': 1 } }), [
      { path: ['metadata'], message: 'must not have an empty key' },
    ]);
  });

  // {"k":"…"} is 8 bytes plus the value.
  it('accepts exactly 16 KiB of JSON', () => {
    const metadata = { k: x(16384 - 8) };
    expect(JSON.stringify(metadata)).toHaveLength(16384);
    expect(draftOf(request({ metadata })).metadata).toEqual(metadata);
  });

  it('rejects 16 KiB + 1 byte of JSON', () => {
    expectRejected(request({ metadata: { k: x(16384 - 7) } }), [
      { path: ['metadata'], message: 'must be at most 16384 bytes as JSON, got 16385' },
    ]);
  });

  it('measures the size in UTF-8 bytes, not characters', () => {
    // "é" is two bytes in UTF-8.
    expect(draftOf(request({ metadata: { k: 'é'.repeat(8188) } })).metadata).toEqual({ k: 'é'.repeat(8188) });
    expectRejected(request({ metadata: { k: 'é'.repeat(8189) } }), [
      { path: ['metadata'], message: 'must be at most 16384 bytes as JSON, got 16386' },
    ]);
  });

  it('accepts nested JSON values', () => {
    const metadata = { source: 'whatsapp', tags: ['a', 'b'], nested: { n: 1, ok: true, none: null } };
    expect(draftOf(request({ metadata })).metadata).toEqual(metadata);
  });

  it.each([[[]], ['text'], [42]])('rejects the non-object %j', (metadata) => {
    expectRejected(request({ metadata }), [{ path: ['metadata'], message: 'must be an object' }]);
  });
});

describe('parseCreateOrderRequest: unknown fields', () => {
  it('accepts a request that uses every known field', () => {
    const body = {
      customer_id: 'cust_1',
      items: [{ product_id: 'prod_1', name: 'Kopi', quantity: 2, price: '12.50', sku: 'KOPI-1' }],
      total: '30.00',
      currency: 'usd',
      shipping: '4.00',
      tax: '1.00',
      shipping_address: { city: 'Jakarta', country: 'ID' },
      billing_address: { name: 'Budi' },
      notes: 'Leave at the door',
      metadata: { channel: 'whatsapp' },
    };
    expect(draftOf(body)).toEqual({
      customerId: 'cust_1',
      currency: { code: 'USD', exponent: 2 },
      items: [{ productId: 'prod_1', name: 'Kopi', quantity: 2, priceMinor: 1250n, sku: 'KOPI-1' }],
      shippingMinor: 400n,
      taxMinor: 100n,
      totalMinor: 3000n,
      shippingAddress: { city: 'Jakarta', country: 'ID' },
      billingAddress: { name: 'Budi' },
      notes: 'Leave at the door',
      metadata: { channel: 'whatsapp' },
    });
  });

  it('rejects an unknown top-level field', () => {
    expectRejected(request({ discount: '1.00' }), [{ path: ['discount'], message: 'is not a known field' }]);
  });

  it('rejects an unknown item field', () => {
    expectRejected(withItem({ discount: '1.00' }), [
      { path: ['items', 0, 'discount'], message: 'is not a known field' },
    ]);
  });

  it('rejects an unknown address field', () => {
    expectRejected(request({ shipping_address: { street: 'Jl. Sudirman' } }), [
      { path: ['shipping_address', 'street'], message: 'is not a known field' },
    ]);
  });

  it('does not accept camelCase names for snake_case fields', () => {
    const body = { customerId: 'cust_1', items: [item()], total: '10.00' };
    const error = validationError(() => parseCreateOrderRequest(body));
    expect(error.details).toHaveLength(2);
    expect(error.details).toEqual(
      expect.arrayContaining([
        { path: ['customer_id'], message: 'is required' },
        { path: ['customerId'], message: 'is not a known field' },
      ]),
    );
  });
});

describe('parseCreateOrderRequest: several errors at once', () => {
  it('reports every shape error in one throw', () => {
    const body = {
      customer_id: '',
      items: [item({ quantity: 0 }), item({ sku: x(129), colour: 'red' })],
      total: '10.00',
      notes: x(5001),
      discount: 1,
    };
    const error = validationError(() => parseCreateOrderRequest(body));
    expect(error.message).toBe('Invalid request: 6 fields are invalid');
    expect(error.details).toHaveLength(6);
    expect(error.details).toEqual(
      expect.arrayContaining([
        { path: ['customer_id'], message: 'must not be empty' },
        { path: ['items', 0, 'quantity'], message: 'must be at least 1' },
        { path: ['items', 1, 'sku'], message: 'must be at most 128 characters' },
        { path: ['items', 1, 'colour'], message: 'is not a known field' },
        { path: ['notes'], message: 'must be at most 5000 characters' },
        { path: ['discount'], message: 'is not a known field' },
      ]),
    );
  });

  it('reports every amount, country and metadata error in one throw', () => {
    const body = {
      customer_id: 'cust_1',
      items: [item({ price: '9.999' }), item({ price: -1 })],
      total: '1e1',
      shipping: -1,
      tax: '0.001',
      shipping_address: { country: 'ZZ' },
      billing_address: { country: 'QQ' },
      metadata: { [x(41)]: 1, big: x(16384) },
    };
    const error = validationError(() => parseCreateOrderRequest(body));
    expect(error.message).toBe('Invalid request: 9 fields are invalid');
    expect(error.details).toHaveLength(9);
    expect(error.details).toEqual(
      expect.arrayContaining([
        { path: ['items', 0, 'price'], message: 'must have at most 2 decimal places in USD' },
        { path: ['items', 1, 'price'], message: 'must be 0 or more' },
        { path: ['total'], message: 'must be a decimal number such as "99.00"' },
        { path: ['shipping'], message: 'must be 0 or more' },
        { path: ['tax'], message: 'must have at most 2 decimal places in USD' },
        {
          path: ['shipping_address', 'country'],
          message: 'must be an ISO 3166-1 alpha-2 country code such as ID',
        },
        {
          path: ['billing_address', 'country'],
          message: 'must be an ISO 3166-1 alpha-2 country code such as ID',
        },
        { path: ['metadata', x(41)], message: 'key must be 1 to 40 characters' },
        { path: ['metadata'], message: 'must be at most 16384 bytes as JSON, got 16440' },
      ]),
    );
  });

  it('reports the same bad field in several items once per item', () => {
    const error = validationError(() =>
      parseCreateOrderRequest(request({ items: [item({ quantity: 0 }), item({ quantity: 0 })] })),
    );
    expect(error.details).toEqual([
      { path: ['items', 0, 'quantity'], message: 'must be at least 1' },
      { path: ['items', 1, 'quantity'], message: 'must be at least 1' },
    ]);
  });
});

describe('parseCreateOrderRequest: null means absent', () => {
  it('treats null optional fields exactly like missing ones', () => {
    const withNulls = request({
      items: [item({ name: null, sku: null })],
      currency: null,
      shipping: null,
      tax: null,
      shipping_address: null,
      billing_address: null,
      notes: null,
      metadata: null,
    });
    const draft = draftOf(withNulls);
    expect(draft).toEqual(draftOf(request()));
    expect(draft.items[0]?.name).toBeUndefined();
    expect(draft.items[0]?.sku).toBeUndefined();
    expect(draft.currency.code).toBe('USD');
    expect(draft.shippingMinor).toBe(0n);
    expect(draft.taxMinor).toBe(0n);
    expect(draft.shippingAddress).toBeUndefined();
    expect(draft.billingAddress).toBeUndefined();
    expect(draft.notes).toBeUndefined();
    expect(draft.metadata).toBeUndefined();
  });

  it('drops null address fields instead of storing them', () => {
    const address = {
      name: null,
      company: null,
      address: null,
      address2: null,
      city: 'Jakarta',
      state: null,
      postal_code: null,
      country: null,
      phone: null,
      email: null,
    };
    expect(draftOf(request({ shipping_address: address })).shippingAddress).toStrictEqual({
      city: 'Jakarta',
    });
  });

  it('does not accept null for a required field', () => {
    expectRejected(withItem({ product_id: null }), [
      { path: ['items', 0, 'product_id'], message: 'must be a string' },
    ]);
  });
});

describe('parseCreateOrderRequest: text PostgreSQL cannot store', () => {
  const message = 'must not contain NUL characters or unpaired surrogates';

  it.each([
    ['a NUL', 'cust\u0000_1'],
    ['a lone high surrogate', 'cust\ud83d'],
    ['a lone low surrogate', '\ude00cust'],
  ])('rejects %s in customer_id', (_label, value) => {
    expectRejected(request({ customer_id: value }), [{ path: ['customer_id'], message }]);
  });

  it('accepts a properly paired surrogate (an emoji)', () => {
    expect(draftOf(request({ customer_id: 'cust_😀' })).customerId).toBe('cust_😀');
  });

  it('rejects a NUL in an item name', () => {
    expectRejected(withItem({ name: 'Kopi\u0000' }), [{ path: ['items', 0, 'name'], message }]);
  });

  it('rejects a lone surrogate in an address field', () => {
    expectRejected(request({ billing_address: { city: 'Jak\ud800arta' } }), [
      { path: ['billing_address', 'city'], message },
    ]);
  });

  it('rejects a NUL in notes', () => {
    expectRejected(request({ notes: '\u0000' }), [{ path: ['notes'], message }]);
  });

  it('rejects a NUL deep inside a metadata value, naming the path', () => {
    expectRejected(request({ metadata: { a: { b: ['fine', 'bad\u0000'] } } }), [
      { path: ['metadata', 'a', 'b', 1], message },
    ]);
  });

  it('rejects a lone surrogate in a metadata value', () => {
    expectRejected(request({ metadata: { note: '\udfff' } }), [{ path: ['metadata', 'note'], message }]);
  });

  it.each([
    ['a NUL', 'ke\u0000y'],
    ['a lone surrogate', 'key\ud800'],
  ])('rejects %s in a metadata key', (_label, key) => {
    expectRejected(request({ metadata: { [key]: 1 } }), [
      { path: ['metadata'], message: 'has a key with NUL characters or unpaired surrogates' },
    ]);
  });

  it('rejects a NUL in a nested metadata key', () => {
    expectRejected(request({ metadata: { outer: { 'in\u0000ner': 1 } } }), [
      { path: ['metadata', 'outer'], message: 'has a key with NUL characters or unpaired surrogates' },
    ]);
  });

  it('accepts an emoji metadata key', () => {
    expect(draftOf(request({ metadata: { '🔑': 'v' } })).metadata).toEqual({ '🔑': 'v' });
  });
});

describe('computeTotals', () => {
  const totalsOf = (body: Body) => computeTotals(draftOf(body));

  it('adds 0.1 + 0.2 exactly: 30 minor units in USD', () => {
    const totals = totalsOf(request({ items: [item({ price: 0.1 }), item({ price: 0.2 })], total: 0.3 }));
    expect(totals).toEqual({ itemSubtotals: [10n, 20n], subtotal: 30n, total: 30n });
  });

  it('multiplies 3 × 0.1 exactly', () => {
    expect(totalsOf(request({ items: [item({ quantity: 3, price: 0.1 })], total: 0.3 }))).toEqual({
      itemSubtotals: [30n],
      subtotal: 30n,
      total: 30n,
    });
  });

  it('adds shipping and tax to the subtotal', () => {
    const totals = totalsOf(
      request({
        items: [item({ quantity: 2, price: '99.00' }), item({ quantity: 1, price: '29.00' })],
        shipping: '10.00',
        tax: '0.01',
        total: '237.01',
      }),
    );
    expect(totals).toEqual({ itemSubtotals: [19800n, 2900n], subtotal: 22700n, total: 23701n });
  });

  it('works in JPY minor units (yen)', () => {
    const totals = totalsOf(
      request({ currency: 'JPY', items: [item({ quantity: 3, price: 333 })], tax: 1, total: 1000 }),
    );
    expect(totals).toEqual({ itemSubtotals: [999n], subtotal: 999n, total: 1000n });
  });

  it('is exact for a very large quantity × price within the cap', () => {
    // As doubles, 1000000.01 × 999999 is not exactly 999999009999.99.
    const totals = totalsOf(request({ items: [item({ quantity: 999_999, price: '1000000.01' })], total: 0 }));
    expect(totals.itemSubtotals).toEqual([99_999_900_999_999n]);
    expect(totals.subtotal).toBe(99_999_900_999_999n);
    expect(totals.total).toBe(99_999_900_999_999n);
  });

  it('accepts 1,000,000 × 9999999.99 USD, which is within the cap', () => {
    const totals = totalsOf(
      request({ items: [item({ quantity: 1_000_000, price: '9999999.99' })], total: 0 }),
    );
    expect(totals.itemSubtotals).toEqual([999_999_999_000_000n]);
    expect(totals.total).toBe(999_999_999_000_000n);
  });

  it('accepts an item subtotal exactly at the cap', () => {
    // 99,999 × 10,000,100,001 minor units = 10^15 − 1.
    const totals = totalsOf(
      request({ items: [item({ quantity: 99_999, price: '100001000.01' })], total: 0 }),
    );
    expect(totals.itemSubtotals).toEqual([999_999_999_999_999n]);
    expect(totals.total).toBe(999_999_999_999_999n);
  });

  it('rejects 1,000,000 × 10000000.00 USD, one minor unit past the cap, naming the item', () => {
    const draft = draftOf(
      request({ items: [item({ quantity: 1_000_000, price: '10000000.00' })], total: 0 }),
    );
    const error = validationError(() => computeTotals(draft));
    expect(error.details).toEqual([
      {
        path: ['items', 0],
        message: 'quantity × price exceeds the largest supported amount, 9999999999999.99 USD',
      },
    ]);
    expect(error.message).toBe(
      'Invalid request: items[0] quantity × price exceeds the largest supported amount, 9999999999999.99 USD',
    );
  });

  it('rejects 1,000,000 × 99999999.99 USD, naming the item', () => {
    const draft = draftOf(
      request({ items: [item({ quantity: 1_000_000, price: '99999999.99' })], total: 0 }),
    );
    expect(validationError(() => computeTotals(draft)).details).toEqual([
      {
        path: ['items', 0],
        message: 'quantity × price exceeds the largest supported amount, 9999999999999.99 USD',
      },
    ]);
  });

  it('names every item past the cap, and not the total', () => {
    const big = item({ quantity: 1_000_000, price: '10000000.00' });
    const draft = draftOf(request({ items: [big, item(), big], total: 0 }));
    expect(validationError(() => computeTotals(draft)).details).toEqual([
      {
        path: ['items', 0],
        message: 'quantity × price exceeds the largest supported amount, 9999999999999.99 USD',
      },
      {
        path: ['items', 2],
        message: 'quantity × price exceeds the largest supported amount, 9999999999999.99 USD',
      },
    ]);
  });

  it('accepts a total exactly at the cap', () => {
    const totals = totalsOf(
      request({ items: [item({ price: '9999999999999.98' })], shipping: '0.01', total: 0 }),
    );
    expect(totals.total).toBe(999_999_999_999_999n);
  });

  it('rejects a total one minor unit past the cap when every item is within it', () => {
    const draft = draftOf(request({ items: [item({ price: '9999999999999.99' })], tax: '0.01', total: 0 }));
    expect(validationError(() => computeTotals(draft)).details).toEqual([
      { path: ['total'], message: 'exceeds the largest supported amount, 9999999999999.99 USD' },
    ]);
  });

  it('states the cap in the order currency', () => {
    const draft = draftOf(
      request({ currency: 'JPY', items: [item({ quantity: 2, price: 500_000_000_000_000 })], total: 0 }),
    );
    expect(validationError(() => computeTotals(draft)).details).toEqual([
      {
        path: ['items', 0],
        message: 'quantity × price exceeds the largest supported amount, 999999999999999 JPY',
      },
    ]);
  });
});

describe('parseCreateOrderRequest: regressions', () => {
  it.each(['IDN', '360', 'I'])('rejects %s, which is not an alpha-2 country code', (country) => {
    expectRejected(request({ shipping_address: { country } }), [
      {
        path: ['shipping_address', 'country'],
        message: 'must be an ISO 3166-1 alpha-2 country code such as ID',
      },
    ]);
  });

  it.each(['XDR', 'XSU', 'XUA', 'XAU', 'XTS', 'XXX'])(
    'rejects %s, which has no minor unit in ISO 4217',
    (currency) => {
      expectRejected(request({ currency }), [
        { path: ['currency'], message: 'must be an ISO 4217 currency code such as USD' },
      ]);
    },
  );

  it('rejects a non-ASCII look-alike of USD', () => {
    expectRejected(request({ currency: 'u\u017fd' }), [
      { path: ['currency'], message: 'must be an ISO 4217 currency code such as USD' },
    ]);
  });

  it('reports shape errors and money errors together', () => {
    expectRejected({ customer_id: '', items: [item({ price: 9.999 })], total: 1 }, [
      { path: ['customer_id'], message: 'must not be empty' },
      { path: ['items', 0, 'price'], message: 'must have at most 2 decimal places in USD' },
    ]);
  });

  it('reports an unknown currency together with an unknown country', () => {
    expectRejected(request({ currency: 'ABC', shipping_address: { country: 'ZZ' } }), [
      { path: ['currency'], message: 'must be an ISO 4217 currency code such as USD' },
      {
        path: ['shipping_address', 'country'],
        message: 'must be an ISO 3166-1 alpha-2 country code such as ID',
      },
    ]);
  });

  it('treats an address whose fields are all null as no address', () => {
    expect(draftOf(request({ billing_address: { name: null, city: null } })).billingAddress).toBeUndefined();
  });
});

describe('parseCreateOrderRequest: metadata nesting', () => {
  const nested = (levels: number): unknown => (levels === 0 ? 'leaf' : { next: nested(levels - 1) });

  it('accepts metadata nested 32 levels deep', () => {
    expect(draftOf(request({ metadata: nested(32) })).metadata).toStrictEqual(nested(32));
  });

  it('rejects metadata nested 33 levels deep', () => {
    expectRejected(request({ metadata: nested(33) }), [
      { path: ['metadata'], message: 'must not nest objects and arrays more than 32 levels deep' },
    ]);
  });
});
