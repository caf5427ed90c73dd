/**
 * Model-based stateful testing with fast-check (`fc.commands`, `fc.asyncModelRun`).
 *
 * A small reference model of the orders contract, written from `orders-api.md` and `events.md`
 * alone: two workspaces with a key each, creates with and without an idempotency key, exact
 * totals, gap-free order numbers, status moves, updates with versions (ETag / If-Match,
 * `expectedVersion`), the list with filters and paging, reads across workspaces, and the
 * events each change writes to the outbox. Random command sequences run against the real app
 * (in process, `app.inject`), each command through REST or GraphQL at random; after every
 * step the answer, the order rows and the outbox must agree with the model. A failure is
 * shrunk to a short sequence and printed with its seed: replay with
 * `MODEL_SEED=<seed> npx vitest run test/outside/model-based.test.ts` (`MODEL_RUNS` sets how
 * many sequences, 100 by default).
 */
import fc from 'fast-check';
import type { LightMyRequestResponse as Response } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, createTestApp, type TestApp, type TestClient } from '../support/app';

const SEED = process.env.MODEL_SEED
  ? Number(process.env.MODEL_SEED)
  : Date.now() ^ (Math.random() * 0x7fffffff);
const RUNS = process.env.MODEL_RUNS ? Number(process.env.MODEL_RUNS) : 100;
const MAX_COMMANDS = 30;

// ---------------------------------------------------------------------------------------------
// The model: only what the contract says.

type Status = 'pending' | 'paid' | 'processing' | 'shipped' | 'delivered' | 'cancelled' | 'refunded';
const STATUSES: Status[] = ['pending', 'paid', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded'];
/** orders-api.md §4. */
const MOVES: Record<Status, Status[]> = {
  pending: ['paid', 'processing', 'cancelled'],
  paid: ['processing', 'shipped', 'cancelled', 'refunded'],
  processing: ['shipped', 'cancelled', 'refunded'],
  shipped: ['delivered', 'refunded'],
  delivered: ['refunded'],
  cancelled: [],
  refunded: [],
};
/** ISO 4217 exponents of the currencies the sequences use. */
const EXPONENT: Record<string, number> = { USD: 2, JPY: 0, KWD: 3 };

interface ModelEvent {
  orderId: string;
  type: 'order.created' | 'order.updated' | 'order.status_changed';
  sequence: number;
  changes?: string[];
  previousStatus?: Status;
  /** The order as the event must carry it (events.md: as GET /api/orders/:id would answer then). */
  order: EventOrder;
}
type EventOrder = Pick<
  ModelOrder,
  | 'id'
  | 'status'
  | 'notes'
  | 'trackingNumber'
  | 'metadata'
  | 'shippingAddress'
  | 'history'
  | 'total'
  | 'currency'
>;
const eventOrder = (o: ModelOrder): EventOrder => ({
  id: o.id,
  status: o.status,
  notes: o.notes,
  trackingNumber: o.trackingNumber,
  metadata: { ...o.metadata },
  shippingAddress: o.shippingAddress,
  history: [...o.history],
  total: o.total,
  currency: o.currency,
});

interface ModelOrder {
  id: string;
  ws: number;
  orderNumber: string;
  customerId: string;
  currency: string;
  itemsCount: number;
  total: string; // with the currency's digits
  status: Status;
  history: Status[];
  version: number;
  notes: string | undefined;
  trackingNumber: string | undefined;
  metadata: Record<string, number>;
  shippingAddress: { city: string; country?: string } | undefined;
  /** created_at as the database holds it, to the microsecond: the list's sort key with the id. */
  createdKey: string;
}

interface Model {
  orders: ModelOrder[];
  /** Per workspace: how many numbers today's counter handed out. */
  numbers: number[];
  /** Per workspace: idempotency key → fingerprint of the request and the order it made. */
  keys: Map<string, { request: string; created: ModelOrder }>[];
  /** Per workspace: the outbox, in the order the events were written. */
  events: ModelEvent[][];
}

interface Real {
  t: TestClient;
  auth: string[];
  workspaceIds: string[];
}

const minorToDecimal = (minor: bigint, currency: string): string => {
  const e = EXPONENT[currency] ?? 2;
  const digits = minor.toString().padStart(e + 1, '0');
  return e === 0 ? digits : `${digits.slice(0, -e)}.${digits.slice(-e)}`;
};

// ---------------------------------------------------------------------------------------------
// Commands' inputs.

interface CreateSpec {
  customer: string;
  currency: string;
  items: { product: string; quantity: number; priceMinor: number }[];
  shippingMinor: number;
  taxMinor: number;
  /** 0: the exact total; otherwise the total is off by this many minor units. */
  totalOff: number;
  /** An item price with one digit more than the currency has: a validation error. */
  badPrice: boolean;
  notes: string | undefined;
  /** Amounts as JSON numbers instead of decimal strings (both are allowed). */
  asNumbers: boolean;
}

const createSpec: fc.Arbitrary<CreateSpec> = fc.record({
  customer: fc.constantFrom('c1', 'c2', 'c3'),
  currency: fc.constantFrom('USD', 'JPY', 'KWD'),
  items: fc.array(
    fc.record({
      product: fc.constantFrom('p1', 'p2'),
      quantity: fc.integer({ min: 1, max: 5 }),
      priceMinor: fc.integer({ min: 0, max: 99_999 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  shippingMinor: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999 })),
  taxMinor: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999 })),
  totalOff: fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1) },
  ),
  badPrice: fc.oneof(
    { weight: 8, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  notes: fc.option(fc.constantFrom('gift wrap', 'leave at door'), { nil: undefined }),
  asNumbers: fc.boolean(),
});

function expectedTotalMinor(spec: CreateSpec): bigint {
  const items = spec.items.reduce((sum, item) => sum + BigInt(item.quantity) * BigInt(item.priceMinor), 0n);
  return items + BigInt(spec.shippingMinor) + BigInt(spec.taxMinor);
}

/** The REST create body of a spec (amounts as exact decimal strings, which both transports take). */
function restBody(spec: CreateSpec): Record<string, unknown> {
  const money = (minor: number | bigint): string | number => {
    const text = minorToDecimal(BigInt(minor), spec.currency);
    return spec.asNumbers ? Number(text) : text;
  };
  const body: Record<string, unknown> = {
    customer_id: spec.customer,
    items: spec.items.map((item, i) => ({
      product_id: item.product,
      quantity: item.quantity,
      price:
        spec.badPrice && i === 0
          ? `${minorToDecimal(BigInt(item.priceMinor), spec.currency)}${EXPONENT[spec.currency] === 0 ? '.5' : '5'}`
          : money(item.priceMinor),
    })),
    total: money(expectedTotalMinor(spec) + BigInt(spec.totalOff)),
    currency: spec.currency,
  };
  if (spec.shippingMinor) body.shipping = money(spec.shippingMinor);
  if (spec.taxMinor) body.tax = money(spec.taxMinor);
  if (spec.notes !== undefined) body.notes = spec.notes;
  return body;
}

const toGraphQLInput = (body: Record<string, unknown>) => ({
  customerId: body.customer_id,
  items: (body.items as Record<string, unknown>[]).map((item) => ({
    productId: item.product_id,
    quantity: item.quantity,
    price: item.price,
  })),
  total: body.total,
  currency: body.currency,
  ...(body.shipping !== undefined ? { shipping: body.shipping } : {}),
  ...(body.tax !== undefined ? { tax: body.tax } : {}),
  ...(body.notes !== undefined ? { notes: body.notes } : {}),
});

/** Which order a read or update names. */
type Target = { kind: 'own'; index: number } | { kind: 'other'; index: number } | { kind: 'unknown' };
const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('own' as const), index: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other' as const), index: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'unknown' as const }) },
);
const UNKNOWN_ID = 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV';

function resolveTarget(model: Model, ws: number, which: Target): ModelOrder | undefined {
  if (which.kind === 'unknown') return undefined;
  const pool = model.orders.filter((o) => (which.kind === 'own' ? o.ws === ws : o.ws !== ws));
  return pool.length === 0 ? undefined : pool[which.index % pool.length];
}

interface Patch {
  status?: Status | null;
  notes?: string | null;
  tracking_number?: string | null;
  metadata?: Record<string, number | null> | null;
  shipping_address?: { city: string; country?: string } | null;
}
const patch: fc.Arbitrary<Patch> = fc.record(
  {
    status: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...STATUSES) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    notes: fc.constantFrom('gift wrap', 'ring twice', null),
    tracking_number: fc.constantFrom('TRK1', 'TRK2', null),
    metadata: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.dictionary(fc.constantFrom('a', 'b'), fc.constantFrom(1, 2, null), { maxKeys: 2 }),
      },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    shipping_address: fc.constantFrom({ city: 'Jakarta', country: 'ID' }, { city: 'Bandung' }, null),
  },
  { requiredKeys: [] },
);
/** If-Match / expectedVersion: none, the version the model holds, or one it does not. */
type Precondition = 'none' | 'current' | 'stale';
const precondition = fc.constantFrom<Precondition>('none', 'none', 'current', 'stale');

// ---------------------------------------------------------------------------------------------
// GraphQL documents.

const ORDER_FIELDS = `id orderNumber customerId status version total currency notes trackingNumber metadata
  shippingAddress { name company address address2 city state postalCode country phone email }
  items { productId quantity price subtotal } statusHistory { status } createdAt`;
const CREATE = `mutation($input: CreateOrderInput!, $key: String) {
  createOrder(input: $input, idempotencyKey: $key) { order { ${ORDER_FIELDS} } replayed userErrors { field message code } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateOrderInput!, $v: Int) {
  updateOrder(id: $id, input: $input, expectedVersion: $v) { order { ${ORDER_FIELDS} } userErrors { field message code } } }`;
const GET = `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
const LIST = `query($filter: OrderFilter, $first: Int, $after: String) {
  orders(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status total currency customerId } } } }`;

async function gql(real: Real, ws: number, query: string, variables: Record<string, unknown>) {
  const res = await real.t.gql(query, variables, { authorization: real.auth[ws] });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ data?: Record<string, Json>; errors?: unknown }>();
  expect(body.errors, res.body).toBeUndefined();
  return body.data!;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read as untyped JSON, as a client does, and the assertions check them
type Json = any;
const restJson = (res: Response) =>
  res.json<{ success: boolean; data?: Json; error?: Json; pagination?: Json }>();

// ---------------------------------------------------------------------------------------------
// What every answer and every row must show.

/** An order as either transport answered it, compared with the model. */
function expectOrder(answer: Json, order: ModelOrder, transport: 'rest' | 'graphql') {
  const rest = transport === 'rest';
  const got = rest
    ? {
        id: answer.id,
        orderNumber: answer.order_number,
        customerId: answer.customer_id,
        status: answer.status,
        total: answer.total,
        currency: answer.currency,
        notes: answer.notes,
        trackingNumber: answer.tracking_number,
        metadata: answer.metadata ?? {},
        shippingAddress: answer.shipping_address,
        history: answer.status_history.map((h: { status: string }) => h.status),
      }
    : {
        id: answer.id,
        orderNumber: answer.orderNumber,
        customerId: answer.customerId,
        status: answer.status.toLowerCase(),
        total: answer.total,
        currency: answer.currency,
        notes: answer.notes ?? undefined,
        trackingNumber: answer.trackingNumber ?? undefined,
        metadata: answer.metadata ?? {},
        shippingAddress: answer.shippingAddress
          ? Object.fromEntries(Object.entries(answer.shippingAddress).filter(([, v]) => v !== null))
          : undefined,
        history: answer.statusHistory.map((h: { status: string }) => h.status.toLowerCase()),
      };
  expect(got).toStrictEqual({
    id: order.id,
    orderNumber: order.orderNumber,
    customerId: order.customerId,
    status: order.status,
    // REST: a JSON number of exactly this value; GraphQL: the Decimal string with the currency's digits.
    total: rest ? Number(order.total) : order.total,
    currency: order.currency,
    notes: order.notes,
    trackingNumber: order.trackingNumber,
    metadata: order.metadata,
    shippingAddress: order.shippingAddress,
    history: order.history,
  });
  if (!rest) expect(answer.version).toBe(order.version);
}

/** The rows and the outbox of both workspaces against the model, after every command. */
async function expectRows(model: Model, real: Real) {
  for (const ws of [0, 1]) {
    const rows = await real.t.db.query<{
      id: string;
      status: string;
      version: number;
      order_number: string;
      total: string;
    }>(
      'select id, status, version, order_number, total::text as total from orders where workspace_id = ? order by id',
      [real.workspaceIds[ws]],
    );
    const mine = model.orders.filter((o) => o.ws === ws).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(
      rows.map((r) => ({
        id: r.id,
        status: r.status,
        version: r.version,
        orderNumber: r.order_number,
        total: Number(r.total),
      })),
    ).toStrictEqual(
      mine.map((o) => ({
        id: o.id,
        status: o.status,
        version: o.version,
        orderNumber: o.orderNumber,
        total: Number(o.total),
      })),
    );
    const events = await real.t.db.query<{ order_id: string; type: string; sequence: number; data: unknown }>(
      'select order_id, type, sequence, data from order_events where workspace_id = ? order by position',
      [real.workspaceIds[ws]],
    );
    // events.md §2 orders each order's events by sequence; across orders it promises nothing (two
    // concurrent creates may write their events in either order), so the log is compared per order.
    const byOrder = <T extends { orderId: string }>(log: T[]) =>
      [...log].sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
    expect(
      byOrder(
        events.map((e) => {
          const data = (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as {
            changes?: string[];
            previous_status?: Status;
            order: Json;
          };
          const o = data.order;
          return {
            orderId: e.order_id,
            type: e.type,
            sequence: e.sequence,
            ...(data.changes ? { changes: [...data.changes].sort() } : {}),
            ...(data.previous_status ? { previousStatus: data.previous_status } : {}),
            order: {
              id: o.id,
              status: o.status,
              notes: o.notes,
              trackingNumber: o.tracking_number,
              metadata: o.metadata ?? {},
              shippingAddress: o.shipping_address,
              history: o.status_history.map((h: { status: string }) => h.status),
              // Events carry amounts as plain JSON numbers.
              total: minorToDecimal(
                BigInt(Math.round(Number(o.total) * 10 ** (EXPONENT[o.currency] ?? 2))),
                o.currency,
              ),
              currency: o.currency,
            },
          };
        }),
      ),
    ).toStrictEqual(byOrder(model.events[ws]));
  }
}

// ---------------------------------------------------------------------------------------------
// The commands.

class CreateCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transport: 'rest' | 'graphql',
    readonly spec: CreateSpec,
    readonly key: string | undefined,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const body = restBody(this.spec);
    const request = JSON.stringify(body);
    const previous = this.key === undefined ? undefined : model.keys[this.ws].get(this.key);
    const expectedTotal = minorToDecimal(expectedTotalMinor(this.spec), this.spec.currency);
    // §6: a request rejected by validation stores nothing, so its key stays free; validation comes first.
    const refusal = this.spec.badPrice
      ? 'VALIDATION_ERROR'
      : this.spec.totalOff !== 0
        ? 'TOTAL_MISMATCH'
        : previous && previous.request !== request
          ? 'IDEMPOTENCY_KEY_REUSED'
          : undefined;

    let order: Json;
    let replayed: boolean;
    if (this.transport === 'rest') {
      const res = await real.t.rest.post('/api/orders', body, {
        authorization: real.auth[this.ws],
        headers: this.key === undefined ? {} : { 'idempotency-key': this.key },
      });
      const answer = restJson(res);
      if (refusal) {
        expect({ status: res.statusCode, code: answer.error?.code }, res.body).toStrictEqual({
          status: 422,
          code: refusal,
        });
        if (refusal === 'TOTAL_MISMATCH') expect(answer.error.message).toContain(expectedTotal);
        if (refusal === 'VALIDATION_ERROR')
          expect(answer.error.details.map((d: { field: string }) => d.field)).toStrictEqual([
            'items[0].price',
          ]);
        return;
      }
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers.location).toBe(`/api/orders/${answer.data.id}`);
      replayed = res.headers['idempotent-replayed'] === 'true';
      order = answer.data;
    } else {
      const data = await gql(real, this.ws, CREATE, { input: toGraphQLInput(body), key: this.key ?? null });
      const payload = data.createOrder as {
        order: Json;
        replayed: boolean;
        userErrors: { field: string[]; code: string; message: string }[];
      };
      if (refusal) {
        expect(payload.order).toBeNull();
        expect(payload.userErrors.map((e) => e.code)).toStrictEqual([refusal]);
        if (refusal === 'TOTAL_MISMATCH') expect(payload.userErrors[0].message).toContain(expectedTotal);
        if (refusal === 'VALIDATION_ERROR')
          expect(payload.userErrors[0].field).toStrictEqual(['input', 'items', '0', 'price']);
        return;
      }
      replayed = payload.replayed;
      order = payload.order;
    }

    if (previous) {
      // Same key, same request: the original answer again, and no second order.
      expect(replayed).toBe(true);
      expectOrder(order, previous.created, this.transport);
      return;
    }
    expect(replayed).toBe(false);
    const [row] = await real.t.db.query<{ created: string; day: string }>(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as created,
              to_char(created_at at time zone 'UTC', 'YYYY-MMDD') as day from orders where id = ?`,
      [order.id],
    );
    expect(row, `order ${order.id} has a row`).toBeDefined();
    const n = ++model.numbers[this.ws];
    const created: ModelOrder = {
      id: order.id,
      ws: this.ws,
      // Gap-free per workspace and day, from 001 (workspaces are in UTC).
      orderNumber: `ORD-${row.day}-${String(n).padStart(3, '0')}`,
      customerId: this.spec.customer,
      currency: this.spec.currency,
      itemsCount: this.spec.items.length,
      total: expectedTotal,
      status: 'pending',
      history: ['pending'],
      version: 1,
      notes: this.spec.notes,
      trackingNumber: undefined,
      metadata: {},
      shippingAddress: undefined,
      createdKey: `${row.created} ${order.id}`,
    };
    expect(order.id).toMatch(/^order_[0-9A-HJKMNP-TV-Z]{26}$/);
    expectOrder(order, created, this.transport);
    // Each item's subtotal is exactly quantity × price.
    const subtotals = order.items.map((item: Json) => item.subtotal);
    const expectedSubtotals = this.spec.items.map((item) =>
      minorToDecimal(BigInt(item.quantity) * BigInt(item.priceMinor), this.spec.currency),
    );
    expect(subtotals).toStrictEqual(
      this.transport === 'rest' ? expectedSubtotals.map(Number) : expectedSubtotals,
    );
    model.orders.push(created);
    model.events[this.ws].push({
      orderId: created.id,
      type: 'order.created',
      sequence: 1,
      order: eventOrder(created),
    });
    if (this.key !== undefined)
      model.keys[this.ws].set(this.key, { request, created: { ...created, history: [...created.history] } });
  }
  toString = () =>
    `create[${this.transport} ws${this.ws}${this.key ? ` key=${this.key}` : ''}](${JSON.stringify(restBody(this.spec))})`;
}

class GetCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transport: 'rest' | 'graphql',
    readonly which: Target,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const order = resolveTarget(model, this.ws, this.which);
    const id = order?.id ?? UNKNOWN_ID;
    // Another workspace's order is exactly like one that does not exist (§1).
    const visible = order?.ws === this.ws ? order : undefined;
    if (this.transport === 'rest') {
      const res = await real.t.rest.get(`/api/orders/${id}`, { authorization: real.auth[this.ws] });
      if (!visible) {
        expect({ status: res.statusCode, code: restJson(res).error?.code }, res.body).toStrictEqual({
          status: 404,
          code: 'NOT_FOUND',
        });
        return;
      }
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers.etag).toBe(`"${visible.version}"`);
      expectOrder(restJson(res).data, visible, 'rest');
    } else {
      const data = await gql(real, this.ws, GET, { id });
      if (!visible) {
        expect(data.order).toBeNull();
        return;
      }
      expectOrder(data.order, visible, 'graphql');
    }
  }
  toString = () => `get[${this.transport} ws${this.ws}](${JSON.stringify(this.which)})`;
}

class UpdateCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transport: 'rest' | 'graphql',
    readonly which: Target,
    readonly patch: Patch,
    readonly precondition: Precondition,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const order = resolveTarget(model, this.ws, this.which);
    const id = order?.id ?? UNKNOWN_ID;
    const visible = order?.ws === this.ws ? order : undefined;
    const version =
      this.precondition === 'none'
        ? undefined
        : this.precondition === 'current'
          ? (visible?.version ?? 1)
          : (visible?.version ?? 1) + 1;

    // What the contract says should happen.
    let refusal: { status: number; code: string } | undefined;
    const changes: string[] = [];
    let next: ModelOrder | undefined;
    if (!visible) refusal = { status: 404, code: 'NOT_FOUND' };
    else if (version !== undefined && version !== visible.version)
      refusal = { status: 412, code: 'PRECONDITION_FAILED' };
    else {
      const p = this.patch;
      next = { ...visible, history: [...visible.history], metadata: { ...visible.metadata } };
      // `status: null` keeps the status, like leaving it out (README, "Updates").
      if (p.status != null && p.status !== visible.status) {
        if (!MOVES[visible.status].includes(p.status))
          refusal = { status: 409, code: 'INVALID_STATUS_TRANSITION' };
        else {
          next.status = p.status;
          next.history.push(p.status);
          changes.push('status');
        }
      }
      if (p.notes !== undefined && (p.notes ?? undefined) !== visible.notes) {
        next.notes = p.notes ?? undefined;
        changes.push('notes');
      }
      if (p.tracking_number !== undefined && (p.tracking_number ?? undefined) !== visible.trackingNumber) {
        next.trackingNumber = p.tracking_number ?? undefined;
        changes.push('tracking_number');
      }
      if (p.metadata !== undefined) {
        if (p.metadata === null) next.metadata = {};
        for (const [key, value] of Object.entries(p.metadata ?? {})) {
          if (value === null) delete next.metadata[key];
          else next.metadata[key] = value;
        }
        if (JSON.stringify(sortKeys(next.metadata)) !== JSON.stringify(sortKeys(visible.metadata)))
          changes.push('metadata');
      }
      if (
        p.shipping_address !== undefined &&
        JSON.stringify(p.shipping_address ?? undefined) !== JSON.stringify(visible.shippingAddress)
      ) {
        next.shippingAddress = p.shipping_address ?? undefined;
        changes.push('shipping_address');
      }
    }

    let answer: Json;
    if (this.transport === 'rest') {
      const res = await real.t.rest.put(`/api/orders/${id}`, this.patch, {
        authorization: real.auth[this.ws],
        headers: version === undefined ? {} : { 'if-match': `"${version}"` },
      });
      if (refusal) {
        expect({ status: res.statusCode, code: restJson(res).error?.code }, res.body).toStrictEqual(refusal);
        if (refusal.code === 'PRECONDITION_FAILED') expect(res.headers.etag).toBe(`"${visible!.version}"`);
      } else {
        expect(res.statusCode, res.body).toBe(200);
        answer = restJson(res).data;
      }
    } else {
      const input: Record<string, unknown> = {};
      if ('status' in this.patch) input.status = this.patch.status ? this.patch.status.toUpperCase() : null;
      if ('notes' in this.patch) input.notes = this.patch.notes;
      if ('tracking_number' in this.patch) input.trackingNumber = this.patch.tracking_number;
      if ('metadata' in this.patch) input.metadata = this.patch.metadata;
      if ('shipping_address' in this.patch) input.shippingAddress = this.patch.shipping_address;
      const data = await gql(real, this.ws, UPDATE, { id, input, v: version ?? null });
      const payload = data.updateOrder as { order: Json; userErrors: { code: string }[] };
      if (refusal) {
        expect(payload.order).toBeNull();
        expect(payload.userErrors.map((e) => e.code)).toStrictEqual([refusal.code]);
      } else {
        expect(payload.userErrors).toStrictEqual([]);
        answer = payload.order;
      }
    }
    if (refusal) return;

    // One change, one version, its events in the outbox (events.md §1): a status move is an
    // order.updated and an order.status_changed, both with the new version as their sequence.
    if (changes.length > 0) {
      next!.version += 1;
      const snapshot = eventOrder(next!);
      model.events[this.ws].push({
        orderId: next!.id,
        type: 'order.updated',
        sequence: next!.version,
        changes: [...changes].sort(),
        order: snapshot,
      });
      if (changes.includes('status'))
        model.events[this.ws].push({
          orderId: next!.id,
          type: 'order.status_changed',
          sequence: next!.version,
          changes: [...changes].sort(),
          previousStatus: visible!.status,
          order: snapshot,
        });
    }
    model.orders[model.orders.indexOf(visible!)] = next!;
    expectOrder(answer, next!, this.transport);
  }
  toString = () =>
    `update[${this.transport} ws${this.ws} ${this.precondition}](${JSON.stringify(this.which)}, ${JSON.stringify(this.patch)})`;
}

const sortKeys = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

interface ListFilter {
  status?: Status;
  customer?: string;
  minTotal?: string;
  maxTotal?: string;
  search?: string;
}
/** An exact comparison of two decimal strings. */
function compareDecimal(a: string, b: string): number {
  const [ai = '0', af = ''] = a.split('.');
  const [bi = '0', bf = ''] = b.split('.');
  const width = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(width, '0'));
  const y = BigInt(bi + bf.padEnd(width, '0'));
  return x < y ? -1 : x > y ? 1 : 0;
}
class ListCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transport: 'rest' | 'graphql',
    readonly filter: ListFilter,
    readonly pageSize: number,
    readonly byCursor: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    // Newest first, ties by id (both descending).
    const expected = model.orders
      .filter((o) => o.ws === this.ws)
      .filter((o) => (this.filter.status ? o.status === this.filter.status : true))
      .filter((o) => (this.filter.customer ? o.customerId === this.filter.customer : true))
      .filter((o) => (this.filter.minTotal ? compareDecimal(o.total, this.filter.minTotal) >= 0 : true))
      .filter((o) => (this.filter.maxTotal ? compareDecimal(o.total, this.filter.maxTotal) <= 0 : true))
      .filter((o) =>
        this.filter.search
          ? `${o.orderNumber}\n${o.notes ?? ''}`.toLowerCase().includes(this.filter.search.toLowerCase())
          : true,
      )
      .sort((a, b) => (a.createdKey < b.createdKey ? 1 : -1));
    const rows: {
      id: string;
      status: string;
      total: unknown;
      currency: string;
      customerId: string;
      itemsCount?: number;
    }[] = [];
    const pages: { total: number; hasMore: boolean; size: number }[] = [];
    let cursor: string | null = null;
    for (let page = 0; page <= expected.length; page++) {
      if (this.transport === 'rest') {
        const query = new URLSearchParams({ limit: String(this.pageSize) });
        if (this.filter.status) query.set('status', this.filter.status);
        if (this.filter.customer) query.set('customer_id', this.filter.customer);
        if (this.filter.minTotal) query.set('min_total', this.filter.minTotal);
        if (this.filter.maxTotal) query.set('max_total', this.filter.maxTotal);
        if (this.filter.search) query.set('search', this.filter.search);
        if (this.byCursor && cursor) query.set('cursor', cursor);
        if (!this.byCursor) query.set('offset', String(rows.length));
        const res = await real.t.rest.get(`/api/orders?${query.toString()}`, {
          authorization: real.auth[this.ws],
        });
        expect(res.statusCode, res.body).toBe(200);
        const body = restJson(res);
        rows.push(
          ...body.data.map((o: Json) => ({
            id: o.id,
            status: o.status,
            total: o.total,
            currency: o.currency,
            customerId: o.customer_id,
            itemsCount: o.items_count,
          })),
        );
        pages.push({
          total: body.pagination.total,
          hasMore: body.pagination.has_more,
          size: body.data.length,
        });
        cursor = body.pagination.next_cursor;
        if (!body.pagination.has_more) break;
      } else {
        const filter: Record<string, unknown> = {};
        if (this.filter.status) filter.status = this.filter.status.toUpperCase();
        if (this.filter.customer) filter.customerId = this.filter.customer;
        if (this.filter.minTotal) filter.minTotal = this.filter.minTotal;
        if (this.filter.maxTotal) filter.maxTotal = this.filter.maxTotal;
        if (this.filter.search) filter.search = this.filter.search;
        const data = await gql(real, this.ws, LIST, { filter, first: this.pageSize, after: cursor });
        const connection = data.orders;
        rows.push(...connection.edges.map((e: Json) => ({ ...e.node, status: e.node.status.toLowerCase() })));
        pages.push({
          total: connection.totalCount,
          hasMore: connection.pageInfo.hasNextPage,
          size: connection.edges.length,
        });
        cursor = connection.pageInfo.endCursor;
        if (!connection.pageInfo.hasNextPage) break;
      }
    }
    const rest = this.transport === 'rest';
    expect(rows).toStrictEqual(
      expected.map((o) => ({
        id: o.id,
        status: o.status,
        total: rest ? Number(o.total) : o.total,
        currency: o.currency,
        customerId: o.customerId,
        ...(rest ? { itemsCount: o.itemsCount } : {}),
      })),
    );
    // Every page: the whole count, and "more" exactly when orders are left after it.
    let seen = 0;
    for (const page of pages) {
      seen += page.size;
      expect(page).toStrictEqual({
        total: expected.length,
        hasMore: seen < expected.length,
        size: Math.min(this.pageSize, expected.length - seen + page.size),
      });
    }
  }
  toString = () =>
    `list[${this.transport} ws${this.ws} ${this.byCursor ? 'cursor' : 'offset'} ${this.pageSize}](${JSON.stringify(this.filter)})`;
}

class ByNumberCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transport: 'rest' | 'graphql',
    readonly which: Target,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const order = resolveTarget(model, this.ws, this.which);
    const orderNumber = order?.orderNumber ?? 'ORD-2000-0101-999';
    // Numbers are per workspace: another workspace's number names this workspace's order of that number, if any.
    const visible = model.orders.find((o) => o.ws === this.ws && o.orderNumber === orderNumber);
    if (this.transport === 'rest') {
      const res = await real.t.rest.get(`/api/orders?order_number=${orderNumber}`, {
        authorization: real.auth[this.ws],
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = restJson(res);
      expect(body.data.map((o: { id: string }) => o.id)).toStrictEqual(visible ? [visible.id] : []);
      expect(body.pagination.total).toBe(visible ? 1 : 0);
    } else {
      const data = await gql(
        real,
        this.ws,
        `query($n: String!) { orderByNumber(orderNumber: $n) { ${ORDER_FIELDS} } }`,
        { n: orderNumber },
      );
      if (!visible) expect(data.orderByNumber).toBeNull();
      else expectOrder(data.orderByNumber, visible, 'graphql');
    }
  }
  toString = () => `byNumber[${this.transport} ws${this.ws}](${JSON.stringify(this.which)})`;
}

/**
 * Two creates at once (§2: numbers safe under concurrent creates; §6: the same key while the
 * first runs). With one key: one order, and the other answer is its replay or
 * IDEMPOTENCY_REQUEST_IN_PROGRESS. Without: two orders, the next two numbers.
 */
class ConcurrentCreatesCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transports: ['rest' | 'graphql', 'rest' | 'graphql'],
    readonly specs: [CreateSpec, CreateSpec],
    readonly sameKey: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const key = this.sameKey
      ? `concurrent-${model.orders.length}-${Math.random().toString(36).slice(2)}`
      : undefined;
    const specs = this.sameKey ? [this.specs[0], this.specs[0]] : this.specs;
    const send = async (i: number) => {
      const body = restBody(specs[i]);
      if (this.transports[i] === 'rest') {
        const res = await real.t.rest.post('/api/orders', body, {
          authorization: real.auth[this.ws],
          headers: key ? { 'idempotency-key': key } : {},
        });
        const answer = restJson(res);
        return res.statusCode === 201
          ? {
              id: answer.data.id as string,
              number: answer.data.order_number as string,
              replayed: res.headers['idempotent-replayed'] === 'true',
            }
          : { code: `${res.statusCode} ${answer.error?.code}` };
      }
      const data = await gql(real, this.ws, CREATE, { input: toGraphQLInput(body), key: key ?? null });
      const payload = data.createOrder as { order: Json; replayed: boolean; userErrors: { code: string }[] };
      return payload.order
        ? {
            id: payload.order.id as string,
            number: payload.order.orderNumber as string,
            replayed: payload.replayed,
          }
        : { code: `409 ${payload.userErrors.map((e) => e.code).join()}` };
    };
    const answers = await Promise.all([send(0), send(1)]);
    const made = answers.filter(
      (a): a is { id: string; number: string; replayed: boolean } => 'id' in a && !a.replayed,
    );
    if (this.sameKey) {
      expect(made, JSON.stringify(answers)).toHaveLength(1);
      const other = answers.find((a) => !('id' in a) || a.replayed);
      if (other && 'id' in other) expect(other.id).toBe(made[0].id);
      else expect(other).toStrictEqual({ code: '409 IDEMPOTENCY_REQUEST_IN_PROGRESS' });
    } else {
      expect(made, JSON.stringify(answers)).toHaveLength(2);
    }
    const n = model.numbers[this.ws];
    const madeInOrder = [...made].sort((a, b) => (a.number < b.number ? -1 : 1));
    for (const [i, answer] of madeInOrder.entries()) {
      const spec = specs[answers.indexOf(answer)];
      const [row] = await real.t.db.query<{ created: string; day: string }>(
        `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as created,
                to_char(created_at at time zone 'UTC', 'YYYY-MMDD') as day from orders where id = ?`,
        [answer.id],
      );
      const created: ModelOrder = {
        id: answer.id,
        ws: this.ws,
        orderNumber: `ORD-${row.day}-${String(n + i + 1).padStart(3, '0')}`,
        customerId: spec.customer,
        currency: spec.currency,
        itemsCount: spec.items.length,
        total: minorToDecimal(expectedTotalMinor(spec), spec.currency),
        status: 'pending',
        history: ['pending'],
        version: 1,
        notes: spec.notes,
        trackingNumber: undefined,
        metadata: {},
        shippingAddress: undefined,
        createdKey: `${row.created} ${answer.id}`,
      };
      expect(answer.number).toBe(created.orderNumber);
      model.orders.push(created);
      model.events[this.ws].push({
        orderId: created.id,
        type: 'order.created',
        sequence: 1,
        order: eventOrder(created),
      });
    }
    model.numbers[this.ws] = n + made.length;
  }
  toString = () =>
    `concurrentCreates[${this.transports.join('+')} ws${this.ws}${this.sameKey ? ' same key' : ''}](${JSON.stringify(this.specs.map(restBody))})`;
}

/**
 * Two metadata updates of one order at once (§4: two concurrent updates never lose either
 * write): both keys end up set, the version grows by two, and the outbox holds both events
 * with sequences v+1 and v+2, each carrying the order as it was after its own change.
 */
class ConcurrentUpdatesCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ws: number,
    readonly transports: ['rest' | 'graphql', 'rest' | 'graphql'],
    readonly index: number,
    readonly values: [number, number],
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const order = resolveTarget(model, this.ws, { kind: 'own', index: this.index });
    if (!order) return;
    const patches: { metadata: Record<string, number> }[] = [
      { metadata: { x: this.values[0] } },
      { metadata: { y: this.values[1] } },
    ];
    const send = async (i: number) => {
      if (this.transports[i] === 'rest') {
        const res = await real.t.rest.put(`/api/orders/${order.id}`, patches[i], {
          authorization: real.auth[this.ws],
        });
        expect(res.statusCode, res.body).toBe(200);
      } else {
        const data = await gql(real, this.ws, UPDATE, { id: order.id, input: patches[i], v: null });
        expect((data.updateOrder as { userErrors: unknown[] }).userErrors).toStrictEqual([]);
      }
    };
    await Promise.all([send(0), send(1)]);
    // Whichever ran first: the model takes the serial order the outbox shows.
    const [first] = await real.t.db.query<{ data: unknown }>(
      'select data from order_events where order_id = ? and sequence = ? and type = ?',
      [order.id, order.version + 1, 'order.updated'],
    );
    const firstData = typeof first?.data === 'string' ? JSON.parse(first.data) : first?.data;
    const afterFirst = (i: number) => JSON.stringify(sortKeys({ ...order.metadata, ...patches[i].metadata }));
    const firstIndex =
      firstData?.order?.metadata && JSON.stringify(sortKeys(firstData.order.metadata)) === afterFirst(1)
        ? 1
        : 0;
    let current = order;
    for (const i of [firstIndex, 1 - firstIndex]) {
      const next: ModelOrder = {
        ...current,
        metadata: { ...current.metadata, ...patches[i].metadata },
        version: current.version,
      };
      const changed = JSON.stringify(sortKeys(next.metadata)) !== JSON.stringify(sortKeys(current.metadata));
      if (changed) {
        next.version += 1;
        model.events[this.ws].push({
          orderId: order.id,
          type: 'order.updated',
          sequence: next.version,
          changes: ['metadata'],
          order: eventOrder(next),
        });
      }
      current = next;
    }
    model.orders[model.orders.indexOf(order)] = current;
  }
  toString = () =>
    `concurrentUpdates[${this.transports.join('+')} ws${this.ws}](${this.index}, ${JSON.stringify(this.values)})`;
}

/** After every command: the rows and the outbox agree with the model. */
class Checked implements fc.AsyncCommand<Model, Real> {
  constructor(readonly inner: fc.AsyncCommand<Model, Real>) {}
  check = (model: Readonly<Model>) => this.inner.check(model);
  async run(model: Model, real: Real) {
    await this.inner.run(model, real);
    await expectRows(model, real);
  }
  toString = () => this.inner.toString();
}

const ws = fc.constantFrom(0, 1);
const transport = fc.constantFrom<'rest' | 'graphql'>('rest', 'graphql');
const validSpec = createSpec.filter((spec) => !spec.badPrice && spec.totalOff === 0);
const commands = [
  fc
    .tuple(ws, fc.tuple(transport, transport), fc.tuple(validSpec, validSpec), fc.boolean())
    .map(([w, trs, specs, same]) => new Checked(new ConcurrentCreatesCommand(w, trs, specs, same))),
  fc
    .tuple(
      ws,
      fc.tuple(transport, transport),
      fc.nat(40),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    )
    .map(([w, trs, index, values]) => new Checked(new ConcurrentUpdatesCommand(w, trs, index, values))),
  fc
    .tuple(
      ws,
      transport,
      createSpec,
      fc.option(fc.constantFrom('k1', 'k2', 'k3'), { nil: undefined, freq: 2 }),
    )
    .map(([w, tr, spec, key]) => new Checked(new CreateCommand(w, tr, spec, key))),
  fc
    .tuple(
      ws,
      transport,
      createSpec.filter((s) => !s.badPrice && s.totalOff === 0),
      fc.constantFrom('k1', 'k2', 'k3'),
    )
    .map(([w, tr, spec, key]) => new Checked(new CreateCommand(w, tr, spec, key))),
  fc.tuple(ws, transport, target).map(([w, tr, which]) => new Checked(new GetCommand(w, tr, which))),
  fc.tuple(ws, transport, target).map(([w, tr, which]) => new Checked(new ByNumberCommand(w, tr, which))),
  fc
    .tuple(ws, transport, target, patch, precondition)
    .map(([w, tr, which, p, pre]) => new Checked(new UpdateCommand(w, tr, which, p, pre))),
  fc
    .tuple(ws, transport, target, patch, precondition)
    .map(([w, tr, which, p, pre]) => new Checked(new UpdateCommand(w, tr, which, p, pre))),
  fc
    .tuple(
      ws,
      transport,
      fc.record(
        {
          status: fc.constantFrom(...STATUSES),
          customer: fc.constantFrom('c1', 'c2', 'c3'),
          minTotal: fc.constantFrom('0', '100', '1000.5', '2500.000'),
          maxTotal: fc.constantFrom('0', '500', '1500.25', '100000'),
          search: fc.constantFrom('GIFT', 'ring', '-001', '-00', 'zz'),
        },
        { requiredKeys: [] },
      ),
      fc.integer({ min: 1, max: 4 }),
      fc.boolean(),
    )
    .map(([w, tr, filter, size, byCursor]) => new Checked(new ListCommand(w, tr, filter, size, byCursor))),
];

// ---------------------------------------------------------------------------------------------

describe('the orders contract as a model, against both transports at random', () => {
  let testApp: TestApp;
  let t: TestClient;
  beforeAll(async () => {
    testApp = await createTestApp();
    t = clientFor(
      () => testApp,
      () => '',
    );
  });
  afterAll(async () => {
    await testApp?.close();
  });

  it(`agrees with the model on ${RUNS} random sequences of up to ${MAX_COMMANDS} commands (MODEL_SEED=${SEED})`, async () => {
    console.log(`model-based: MODEL_SEED=${SEED} MODEL_RUNS=${RUNS}`);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS }), async (cmds) => {
        // Two fresh workspaces per sequence: each starts with no orders, no keys and number 001.
        run += 1;
        const slugs = [`model-${run}-a`, `model-${run}-b`];
        const auth = [await testApp.bearer(slugs[0]), await testApp.bearer(slugs[1])];
        const workspaceIds = await Promise.all(auth.map(async (a) => (await t.context(a)).workspaceId));
        const model: Model = { orders: [], numbers: [0, 0], keys: [new Map(), new Map()], events: [[], []] };
        await fc.asyncModelRun(() => ({ model, real: { t, auth, workspaceIds } }), cmds);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 600_000);
});
