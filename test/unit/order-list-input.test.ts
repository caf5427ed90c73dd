import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { parseListQuery } from '../../src/orders/list-parameters';
import { checkPageSize, decodeCursor, encodeCursor } from '../../src/orders/order-cursor';
import { parseOrderFilter } from '../../src/orders/order-filter';

function rejected(run: () => unknown): { path: unknown[]; message: string }[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('VALIDATION_ERROR');
    return (error as AppError).details.map((detail) => ({ path: [...detail.path], message: detail.message }));
  }
  throw new Error('expected a VALIDATION_ERROR');
}

describe('parseListQuery', () => {
  it('defaults to the newest 50 from the start', () => {
    expect(parseListQuery({})).toStrictEqual({ filter: {}, sort: '-created_at', page: { limit: 50, offset: 0 } });
  });

  it('reads every filter', () => {
    expect(
      parseListQuery({
        customer_id: 'c1',
        status: 'paid',
        from: '2025-03-01',
        to: '2025-03-31T23:59:59+07:00',
        min_total: '10',
        max_total: '99.99',
        search: 'gift',
        order_number: 'ORD-2025-0327-001',
        updated_since: '2025-03-27T15:00:00.123456+07:00',
        sort: 'updated_at',
        limit: '100',
        offset: '20',
      }),
    ).toStrictEqual({
      filter: {
        customerId: 'c1',
        status: 'paid',
        from: { kind: 'date', value: '2025-03-01' },
        to: { kind: 'instant', value: '2025-03-31T23:59:59+07:00', unit: 'second' },
        minTotal: '10',
        maxTotal: '99.99',
        search: 'gift',
        orderNumber: 'ORD-2025-0327-001',
        updatedSince: '2025-03-27T15:00:00.123456+07:00',
      },
      sort: 'updated_at',
      page: { limit: 100, offset: 20 },
    });
  });

  it('reads a date-time without a zone as local time', () => {
    expect(parseListQuery({ from: '2025-03-01T08:30' }).filter.from).toStrictEqual({ kind: 'local', value: '2025-03-01T08:30', unit: 'minute' });
  });

  it.each([
    ['2025-03-01', { kind: 'date', value: '2025-03-01' }],
    ['2025-03-01T08:30Z', { kind: 'instant', value: '2025-03-01T08:30Z', unit: 'minute' }],
    ['2025-03-01T08:30:00Z', { kind: 'instant', value: '2025-03-01T08:30:00Z', unit: 'second' }],
    ['2025-03-01 08:30:00', { kind: 'local', value: '2025-03-01T08:30:00', unit: 'second' }],
    ['2025-03-01T08:30:00.000Z', { kind: 'instant', value: '2025-03-01T08:30:00.000Z' }],
    ['2025-03-01T08:30:00.5', { kind: 'local', value: '2025-03-01T08:30:00.5' }],
  ])('notes the unit to=%s is written in (a fraction is exact)', (to, bound) => {
    expect(parseListQuery({ to }).filter.to).toStrictEqual(bound);
  });

  it.each([
    [{ limit: '0' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: '101' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: 'ten' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ offset: '-1' }, 'offset', 'must be a whole number from 0 to 1000000000'],
    [{ status: 'lost' }, 'status', 'must be one of pending, paid, processing, shipped, delivered, cancelled, refunded'],
    // An empty select of a form, an unticked value of a tool: told the statuses, not a length.
    [{ status: '' }, 'status', 'must be one of pending, paid, processing, shipped, delivered, cancelled, refunded'],
    [{ from: '2025-02-30' }, 'from', 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time'],
    [{ to: 'yesterday' }, 'to', 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time'],
    // JavaScript parses these; PostgreSQL refuses them.
    [{ from: '0000-01-01' }, 'from', 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time'],
    [{ from: '2020-01-01T25:61' }, 'from', 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time'],
    [{ to: '2020-01-01T10:00-23:59' }, 'to', 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time'],
    [{ min_total: '-5' }, 'min_total', 'must be a non-negative decimal number such as 100.50'],
    [{ max_total: '1e' }, 'max_total', 'must be a non-negative decimal number such as 100.50'],
    [{ max_total: '-1e3' }, 'max_total', 'must be a non-negative decimal number such as 100.50'],
    [{ max_total: '1e999' }, 'max_total', 'must be a non-negative decimal number such as 100.50'],
    [{ max_total: '1e32' }, 'max_total', 'must be at most 32 characters written as a decimal'],
    [{ search: '' }, 'search', 'must be 1 to 200 characters'],
    [{ search: 'x'.repeat(201) }, 'search', 'must be 1 to 200 characters'],
    [{ customer_id: ['a', 'b'] }, 'customer_id', 'must be given once'],
    [{ page: '2' }, 'page', 'is not a known parameter'],
  ])('rejects %j naming %s', (query, field, message) => {
    expect(rejected(() => parseListQuery(query))).toStrictEqual([{ path: [field], message }]);
  });

  it('reads a total bound written with an exponent as the plain decimal it spells (clients print numbers so)', () => {
    expect(parseListQuery({ min_total: '1.0E7', max_total: '2.5e-3' }).filter).toStrictEqual({
      minTotal: '10000000',
      maxTotal: '0.0025',
    });
    expect(parseListQuery({ min_total: '1e31' }).filter).toStrictEqual({ minTotal: `1${'0'.repeat(31)}` });
  });

  it('names every bad parameter at once', () => {
    expect(rejected(() => parseListQuery({ limit: '0', status: 'x', sort: 'asc', page: '2' })).map((e) => e.path[0])).toStrictEqual([
      'page',
      'status',
      'sort',
      'limit',
    ]);
  });

  const SINCE = 'must be an RFC 3339 date-time with a zone, such as 2026-12-01T16:30:00Z';
  it.each([
    [{ updated_since: '2025-03-01' }, 'updated_since', SINCE],
    [{ updated_since: '2025-03-01T10:00' }, 'updated_since', SINCE],
    [{ updated_since: '2025-02-30T10:00:00Z' }, 'updated_since', SINCE],
    [{ updated_since: '2020-01-01T24:00:00Z' }, 'updated_since', SINCE],
    [{ updated_since: '2020-01-01T10:00:00-16:00' }, 'updated_since', SINCE],
    [{ updated_since: '0000-01-01T00:00:00Z' }, 'updated_since', SINCE],
    [{ updated_since: 'yesterday' }, 'updated_since', SINCE],
    [{ updated_since: ['2025-03-01T10:00:00Z', '2025-03-02T10:00:00Z'] }, 'updated_since', 'must be given once'],
    [{ sort: 'created_at' }, 'sort', 'must be one of -created_at, updated_at'],
    [{ sort: 'UPDATED_AT' }, 'sort', 'must be one of -created_at, updated_at'],
    [{ sort: ['updated_at', 'updated_at'] }, 'sort', 'must be given once'],
    [{ cursor: 'garbage' }, 'cursor', 'is not a cursor from this API'],
    [{ cursor: ['a', 'b'] }, 'cursor', 'must be given once'],
  ])('rejects %j naming %s', (query, field, message) => {
    expect(rejected(() => parseListQuery(query))).toStrictEqual([{ path: [field], message }]);
  });

  const at = '2025-03-27T15:00:00.123Z';
  const id = 'order_01HZX0000000000000000000AB';
  it('reads a cursor of its own sort, and refuses one of the other sort naming cursor', () => {
    const byChange = encodeCursor({ sort: 'updated_at', at, id });
    const newest = encodeCursor({ sort: '-created_at', at, id });
    expect(parseListQuery({ sort: 'updated_at', cursor: byChange }).page).toStrictEqual({
      limit: 50,
      offset: 0,
      after: { sort: 'updated_at', at, id },
    });
    expect(parseListQuery({ cursor: newest }).page.after).toStrictEqual({ sort: '-created_at', at, id });
    expect(rejected(() => parseListQuery({ cursor: byChange }))).toStrictEqual([
      { path: ['cursor'], message: 'belongs to the sort updated_at, not -created_at; start again without a cursor' },
    ]);
    expect(rejected(() => parseListQuery({ sort: 'updated_at', cursor: newest }))).toStrictEqual([
      { path: ['cursor'], message: 'belongs to the sort -created_at, not updated_at; start again without a cursor' },
    ]);
  });

  it('refuses a cursor with an offset, and takes an empty cursor as the first page', () => {
    const cursor = encodeCursor({ sort: '-created_at', at, id });
    expect(rejected(() => parseListQuery({ cursor, offset: '0' }))).toStrictEqual([
      { path: ['offset'], message: 'cannot be combined with cursor: page by one or the other' },
    ]);
    expect(parseListQuery({ cursor: '' }).page).toStrictEqual({ limit: 50, offset: 0 });
  });
});

describe('parseOrderFilter and page sizes', () => {
  it('refuses limit-like keys in a filter', () => {
    expect(rejected(() => parseOrderFilter({ limit: '5' }))).toStrictEqual([{ path: ['limit'], message: 'is not a known filter' }]);
  });

  it('takes first from 1 to 100, default 50', () => {
    expect(checkPageSize(undefined, 'first')).toBe(50);
    expect(checkPageSize(100, 'first')).toBe(100);
    expect(rejected(() => checkPageSize(0, 'first'))).toStrictEqual([{ path: ['first'], message: 'must be between 1 and 100' }]);
    expect(rejected(() => checkPageSize(101, 'first'))).toStrictEqual([{ path: ['first'], message: 'must be between 1 and 100' }]);
  });
});

describe('cursors', () => {
  it('round-trip', () => {
    const cursor = { sort: '-created_at' as const, at: '2025-03-27T15:00:00.123Z', id: 'order_01HZX0000000000000000000AB' };
    expect(decodeCursor(encodeCursor(cursor), 'after')).toStrictEqual(cursor);
    const byChange = { ...cursor, sort: 'updated_at' as const };
    expect(decodeCursor(encodeCursor(byChange), 'after', 'updated_at')).toStrictEqual(byChange);
  });

  it.each([
    '',
    'not-base64!',
    Buffer.from('{"a":1}').toString('base64url'),
    Buffer.from('["yesterday","x"]').toString('base64url'),
    // `Date.parse("1")` is the year 2001 in JavaScript, and no timestamp at all in PostgreSQL.
    Buffer.from('["1","x"]').toString('base64url'),
    Buffer.from('["2025-03-27T15:00:00.123Z","x"]').toString('base64url'),
    // The default sort's cursors have no name; a named one must name another sort.
    Buffer.from('["-created_at","2025-03-27T15:00:00.123Z","order_01HZX0000000000000000000AB"]').toString('base64url'),
    Buffer.from('["sideways","2025-03-27T15:00:00.123Z","order_01HZX0000000000000000000AB"]').toString('base64url'),
    Buffer.from('["updated_at","2025-03-27T15:00:00.123Z"]').toString('base64url'),
    Buffer.from('["updated_at","2025-03-27T15:00:00Z","order_01HZX0000000000000000000AB"]').toString('base64url'),
  ])(
    'refuse %j',
    (value) => {
      expect(rejected(() => decodeCursor(value, 'after'))).toStrictEqual([{ path: ['after'], message: 'is not a cursor from this API' }]);
    },
  );
});

// The edges a boundary mutant (`npm run mutation`) moves: the largest offset, one past it, the
// ten-digit cap, text around the digits, and a page parameter given twice.
describe('page parameters at their edges', () => {
  it.each([
    [{ limit: '1' }, { limit: 1, offset: 0 }],
    [{ limit: '100' }, { limit: 100, offset: 0 }],
    [{ offset: '0' }, { limit: 50, offset: 0 }],
    [{ offset: '1000000000' }, { limit: 50, offset: 1_000_000_000 }],
    [{ offset: '0000000007' }, { limit: 50, offset: 7 }],
  ])('takes %j', (query, page) => {
    expect(parseListQuery(query).page).toStrictEqual(page);
  });

  it.each([
    [{ offset: '1000000001' }, 'offset', 'must be a whole number from 0 to 1000000000'],
    [{ offset: '10000000000' }, 'offset', 'must be a whole number from 0 to 1000000000'],
    [{ limit: '1.5' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: '+5' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: ' 5' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: '5 ' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: '' }, 'limit', 'must be a whole number from 1 to 100'],
    [{ limit: ['10', '20'] }, 'limit', 'must be given once'],
    [{ offset: ['0', '10'] }, 'offset', 'must be given once'],
    [{ sort: ['created_at', '-created_at'] }, 'sort', 'must be given once'],
  ])('refuses %j naming %s', (query, field, message) => {
    expect(rejected(() => parseListQuery(query))).toStrictEqual([{ path: [field], message }]);
  });
});
