/**
 * A merchant who sells in many currencies, and their accountant, with tables and arithmetic
 * the gateway does not use: the ISO 4217 list of `currency-codes` for each code's minor digits,
 * the runtime's `Intl.supportedValuesOf('currency')` for the codes in use today, and dinero.js
 * (2.0.2, bigint amounts) for every sum.
 *
 * - Every code of ISO 4217 (and every one `Intl` still knows) is accepted or refused as an
 *   accountant expects: tenders with their ISO digits (one digit more is a 422, nothing stored);
 *   "N.A." units (metals, bond units, SDR, XTS, XXX), the next-day dollar USN, withdrawn codes (ANG too)
 *   and XAD (a unit of account) refused.
 * - A day of orders in eight currencies, made over REST (numbers and strings) and GraphQL, is
 *   reconciled per currency: the books computed with dinero.js from the requests equal what the
 *   REST list, the GraphQL connection and the CloudEvents each webhook delivered add up to.
 *
 * Needs no outside service: the events come through a webhook receiver on 127.0.0.1.
 */
import currencyCodes from 'currency-codes';
import { add, dinero, type Dinero, type DineroCurrency, multiply, toDecimal } from 'dinero.js/bigint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { eventually } from '../support/nats';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const t = useTestApp({
  webhookAllowPrivateNetworks: true,
  eventsPollIntervalMs: 100,
  rateLimitPerMinute: 100_000,
});

/** ISO 4217 units whose minor unit is "N.A.": none is money an order can be paid in. */
const NOT_APPLICABLE = [
  'XAG',
  'XAU',
  'XBA',
  'XBB',
  'XBC',
  'XBD',
  'XDR',
  'XPD',
  'XPT',
  'XSU',
  'XTS',
  'XUA',
  'XXX',
];
/** Codes ISO 4217 no longer lists (or never listed as a tender) that a caller may still send. */
const WITHDRAWN = ['HRK', 'SLL', 'ZWL', 'VEF', 'MRO', 'STD', 'LTL', 'BYR', 'DEM', 'XAD'];
/** XCG, the Caribbean guilder (2025), is newer than the `currency-codes` release. */
const ISO: Map<string, number> = new Map([
  ...currencyCodes.data.map((c): [string, number] => [c.code, c.digits]),
  ['XCG', 2],
]);
const TENDERS = [...ISO.keys()].filter(
  (code) => !NOT_APPLICABLE.includes(code) && !['USN', 'ANG'].includes(code),
);

/** `digits` decimal text of `minor` minor units: 1234n, 2 → "12.34". */
const decimal = (minor: bigint, digits: number) => {
  const text = minor.toString().padStart(digits + 1, '0');
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
};

const orderOf = (currency: string, price: string | number, total: string | number) => ({
  customer_id: `ledger_${currency}`,
  currency,
  items: [{ product_id: 'p', quantity: 1, price }],
  total,
});

describe('which codes are money', () => {
  it('the runtime’s Intl still lists the withdrawn HRK, SLL and ZWL, so a caller may well send them', () => {
    const inUse = new Set(Intl.supportedValuesOf('currency'));
    expect(WITHDRAWN.filter((code) => inUse.has(code))).toStrictEqual(['HRK', 'SLL', 'ZWL']);
  });

  it('every tender is accepted with its ISO digits, in any case, and one digit more is refused', async () => {
    const wrong: string[] = [];
    for (const code of TENDERS) {
      const digits = ISO.get(code) ?? 2;
      const price = decimal(10n ** BigInt(digits) + 1n, digits); // one unit and one minor unit
      const created = await t.rest.post('/api/orders', orderOf(code.toLowerCase(), price, price));
      const data = created.json().data;
      if (created.statusCode !== 201 || data.currency !== code || data.total !== Number(price))
        wrong.push(`${code}: ${created.statusCode} ${created.body.slice(0, 200)}`);
      const finer = `${price}${digits === 0 ? '.' : ''}1`;
      const refused = await t.rest.post('/api/orders', orderOf(code, finer, finer));
      const message =
        digits === 0
          ? `must be a whole number in ${code}`
          : `must have at most ${digits} decimal places in ${code}`;
      if (refused.statusCode !== 422 || refused.json().error.details?.[0]?.message !== message)
        wrong.push(`${code} ${finer}: ${refused.statusCode} ${refused.body.slice(0, 200)}`);
    }
    expect(wrong).toStrictEqual([]);
    expect(await t.db.count('orders', "customer_id like 'ledger_%'")).toBe(TENDERS.length);
  }, 60_000);

  it.each([...NOT_APPLICABLE, 'USN', 'ANG', ...WITHDRAWN])(
    '%s is refused with a 422 on currency, and nothing is stored',
    async (code) => {
      const before = await t.db.count('orders');
      const res = await t.rest.post('/api/orders', orderOf(code, '1', '1'));
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toStrictEqual(['currency']);
      expect(await t.db.count('orders')).toBe(before);
    },
  );
});

/** One order of the day, in minor units of its currency. */
interface Sale {
  currency: string;
  lines: { quantity: number; priceMinor: bigint }[];
  shippingMinor: bigint;
  taxMinor: bigint;
  via: 'rest-number' | 'rest-string' | 'graphql';
}

const DAY_CURRENCIES = ['JPY', 'USD', 'EUR', 'KWD', 'BHD', 'IDR', 'CLF', 'XCG'];

/** The day, deterministic: every currency, every way in, amounts from one minor unit to near the cap. */
function day(): Sale[] {
  const sales: Sale[] = [];
  let seed = 7n;
  const next = (bound: bigint) => {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 63n;
    return seed % bound;
  };
  for (const currency of DAY_CURRENCIES)
    for (const via of ['rest-number', 'rest-string', 'graphql'] as const)
      for (let n = 0; n < 2; n++)
        sales.push({
          currency,
          via,
          lines: [
            { quantity: 1 + Number(next(12n)), priceMinor: next(10n ** 7n) },
            { quantity: 3, priceMinor: 1n },
            ...(n === 1 ? [{ quantity: 1_000_000, priceMinor: next(10n ** 8n) }] : []),
          ],
          shippingMinor: next(10n ** 5n),
          taxMinor: next(10n ** 5n),
        });
  return sales;
}

const dineroCurrency = (code: string): DineroCurrency<bigint> => ({
  code,
  base: 10n,
  exponent: BigInt(ISO.get(code) ?? 2),
});
const money = (minor: bigint, code: string) => dinero({ amount: minor, currency: dineroCurrency(code) });
/** A JSON number or Decimal string the gateway wrote, as money: its literal read digit by digit. */
const moneyOf = (written: number | string, code: string): Dinero<bigint> => {
  const text = String(written);
  const digits = ISO.get(code) ?? 2;
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match || (match[2] ?? '').length > digits)
    throw new Error(`${code} amount ${text} is not exact to ${digits} digits`);
  return money(BigInt(`${match[1]}${(match[2] ?? '').padEnd(digits, '0')}`), code);
};

type Books = Record<string, string>;
/** Sums per currency, written with dinero's `toDecimal` (the currency's digits). */
function books(entries: { currency: string; amount: Dinero<bigint> }[]): Books {
  const sums = new Map<string, Dinero<bigint>>();
  for (const { currency, amount } of entries) {
    const sum = sums.get(currency);
    sums.set(currency, sum ? add(sum, amount) : amount);
  }
  return Object.fromEntries(
    [...sums].sort(([a], [b]) => a.localeCompare(b)).map(([code, sum]) => [code, toDecimal(sum)]),
  );
}

describe('a multi-currency day, reconciled per currency', () => {
  let receiver: Receiver;
  const sales = day();
  const ids = new Set<string>();

  beforeAll(async () => {
    receiver = await startReceiver();
    const auth = await t.bearer('ledger-day');
    const endpoint = await t.gql(
      'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { message } } }',
      { input: { url: receiver.url, events: ['ORDER_CREATED'] } },
      { authorization: auth },
    );
    expect(endpoint.json().data?.createWebhookEndpoint.userErrors, endpoint.body).toStrictEqual([]);
    receiver.secret = endpoint.json().data.createWebhookEndpoint.secret;
    for (const sale of sales) {
      const digits = ISO.get(sale.currency) ?? 2;
      const amounts = sale.lines.map((line) =>
        multiply(money(line.priceMinor, sale.currency), BigInt(line.quantity)),
      );
      const total = [
        money(sale.shippingMinor, sale.currency),
        money(sale.taxMinor, sale.currency),
        ...amounts,
      ].reduce((a, b) => add(a, b));
      const write = (minor: bigint) =>
        sale.via === 'rest-number' ? Number(decimal(minor, digits)) : decimal(minor, digits);
      if (sale.via === 'graphql') {
        const res = await t.gql(
          'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { field message } } }',
          {
            input: {
              customerId: 'day',
              currency: sale.currency.toLowerCase(),
              items: sale.lines.map((line, i) => ({
                productId: `p${i}`,
                quantity: line.quantity,
                price: write(line.priceMinor),
              })),
              shipping: write(sale.shippingMinor),
              tax: write(sale.taxMinor),
              total: toDecimal(total),
            },
          },
          { authorization: auth },
        );
        const payload = res.json().data.createOrder;
        expect(payload.userErrors, res.body).toStrictEqual([]);
        ids.add(payload.order.id);
      } else {
        const res = await t.rest.post(
          '/api/orders',
          {
            customer_id: 'day',
            currency: sale.currency,
            items: sale.lines.map((line, i) => ({
              product_id: `p${i}`,
              quantity: line.quantity,
              price: write(line.priceMinor),
            })),
            shipping: write(sale.shippingMinor),
            tax: write(sale.taxMinor),
            total: sale.via === 'rest-number' ? Number(toDecimal(total)) : toDecimal(total),
          },
          { authorization: auth },
        );
        expect(res.statusCode, res.body).toBe(201);
        ids.add(res.json().data.id);
      }
    }
    await eventually(
      async () => receiver.received.length >= sales.length,
      30_000,
      'every order.created delivered',
    );
  }, 60_000);
  afterAll(() => receiver?.close());

  const expected = () =>
    books(
      sales.map((sale) => ({
        currency: sale.currency,
        amount: [
          money(sale.shippingMinor, sale.currency),
          money(sale.taxMinor, sale.currency),
          ...sale.lines.map((line) => multiply(money(line.priceMinor, sale.currency), BigInt(line.quantity))),
        ].reduce((a, b) => add(a, b)),
      })),
    );

  it('the REST list adds up to the books, every total written with its currency’s digits', async () => {
    const auth = await t.bearer('ledger-day');
    const rows: { currency: string; total: number }[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await t.rest.get(`/api/orders?limit=100&offset=${offset}`, { authorization: auth });
      rows.push(...page.json().data);
      if (!page.json().pagination.has_more) break;
    }
    expect(rows).toHaveLength(sales.length);
    expect(
      books(rows.map((row) => ({ currency: row.currency, amount: moneyOf(row.total, row.currency) }))),
    ).toStrictEqual(expected());
  });

  it('each REST order’s items, subtotal and total are what dinero computes from its lines', async () => {
    const auth = await t.bearer('ledger-day');
    for (const id of ids) {
      const order = (await t.rest.get(`/api/orders/${id}`, { authorization: auth })).json().data;
      const code: string = order.currency;
      const subtotals = order.items.map((item: { price: number; quantity: number }) =>
        multiply(moneyOf(item.price, code), BigInt(item.quantity)),
      );
      expect(
        order.items.map((item: { subtotal: number }) => toDecimal(moneyOf(item.subtotal, code))),
      ).toStrictEqual(subtotals.map((s: Dinero<bigint>) => toDecimal(s)));
      const subtotal = subtotals.reduce((a: Dinero<bigint>, b: Dinero<bigint>) => add(a, b));
      expect(toDecimal(moneyOf(order.subtotal, code))).toBe(toDecimal(subtotal));
      expect(toDecimal(moneyOf(order.total, code))).toBe(
        toDecimal(add(add(subtotal, moneyOf(order.shipping, code)), moneyOf(order.tax, code))),
      );
    }
  });

  it('the GraphQL connection adds up to the books, each Decimal a string with exactly the ISO digits', async () => {
    const auth = await t.bearer('ledger-day');
    const nodes: { currency: string; total: string }[] = [];
    let after: string | null = null;
    do {
      const res = await t.gql(
        'query($after: String) { orders(first: 100, after: $after) { edges { node { currency total } } pageInfo { hasNextPage endCursor } } }',
        { after },
        { authorization: auth },
      );
      const connection = res.json().data.orders;
      nodes.push(...connection.edges.map((edge: { node: { currency: string; total: string } }) => edge.node));
      after = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
    } while (after);
    expect(nodes).toHaveLength(sales.length);
    for (const node of nodes) {
      const digits = ISO.get(node.currency) ?? 2;
      expect(node.total).toMatch(digits === 0 ? /^\d+$/ : new RegExp(`^\\d+\\.\\d{${digits}}$`));
    }
    expect(
      books(nodes.map((node) => ({ currency: node.currency, amount: moneyOf(node.total, node.currency) }))),
    ).toStrictEqual(expected());
  });

  it('the CloudEvents the webhook received add up to the books, one event per order, each verified', () => {
    const events = receiver.received.map((delivery) => ({
      verified: delivery.verified,
      event: JSON.parse(delivery.body),
    }));
    expect(events.every((e) => e.verified)).toBe(true);
    expect(new Set(events.map((e) => e.event.data.order.id))).toStrictEqual(ids);
    expect(events).toHaveLength(sales.length);
    expect(
      books(
        events.map(({ event }) => ({
          currency: event.data.order.currency,
          amount: moneyOf(event.data.order.total, event.data.order.currency),
        })),
      ),
    ).toStrictEqual(expected());
  });
});
