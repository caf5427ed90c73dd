import { describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { idempotencyLockId } from '../../src/orders/idempotency';
import { IdempotencyKeyEntity } from '../../src/orders/idempotency.entity';
import { clientFor, createTestApp, useTestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';


const t = useTestApp({ idempotencyTtlMs: 60_000 });

const body = (overrides: Record<string, unknown> = {}) => ({
  customer_id: 'contact_1',
  items: [{ product_id: 'p1', quantity: 2, price: 99.0 }],
  total: 198,
  metadata: { a: 1, b: 2 },
  ...overrides,
});

const ordersFor = (customer: string) => t.db.count('orders', 'customer_id = ?', [customer]);

describe('Idempotency-Key on POST /api/orders', () => {
  it('replays the original status and body for the same request, and creates one order', async () => {
    const first = await t.rest.post('/api/orders', body({ customer_id: 'replay' }), { headers: { 'idempotency-key': 'key-replay' } });
    const again = await t.rest.post('/api/orders', body({ customer_id: 'replay' }), { headers: { 'idempotency-key': 'key-replay' } });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toStrictEqual(first.json());
    expect(await ordersFor('replay')).toBe(1);
  });

  it('replays the original body even after the order changed', async () => {
    const first = await t.rest.post('/api/orders', body({ customer_id: 'changed' }), { headers: { 'idempotency-key': 'key-changed' } });
    await t.rest.put(`/api/orders/${first.json().data.id}`, { status: 'paid' });
    expect((await t.rest.post('/api/orders', body({ customer_id: 'changed' }), { headers: { 'idempotency-key': 'key-changed' } })).json()).toStrictEqual(first.json());
  });

  it('replays the very bytes of the original body, whatever order metadata keys were sent in', async () => {
    // Sent in an order PostgreSQL's jsonb does not keep (it sorts keys shorter first, then by bytes).
    const metadata = { zz: 1, a: { yy: 2, b: 3 }, list: [{ cc: 1, d: 2 }], é: 'x', e: 'y' };
    const first = await t.rest.post('/api/orders', body({ customer_id: 'bytes', metadata }), { headers: { 'idempotency-key': 'key-bytes' } });
    const again = await t.rest.post('/api/orders', body({ customer_id: 'bytes', metadata }), { headers: { 'idempotency-key': 'key-bytes' } });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    // And the order as read back is the order as created.
    const read = await t.rest.get(`/api/orders/${first.json().data.id}`);
    expect(read.body).toBe(first.body);
  });

  it('treats the same order written differently (key order, 99 vs "99.00") as the same request', async () => {
    const first = await t.rest.post('/api/orders', body({ customer_id: 'canon' }), { headers: { 'idempotency-key': 'key-canon' } });
    const reordered = await t.rest.post('/api/orders', { total: '198.00', metadata: { b: 2, a: 1 }, items: [{ price: '99.00', quantity: 2, product_id: 'p1' }], customer_id: 'canon' }, { headers: { 'idempotency-key': 'key-canon' } });
    expect(reordered.headers['idempotent-replayed']).toBe('true');
    expect(reordered.json().data.id).toBe(first.json().data.id);
  });

  it('refuses the same key for a different request with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    await t.rest.post('/api/orders', body({ customer_id: 'reuse' }), { headers: { 'idempotency-key': 'key-reuse' } });
    const res = await t.rest.post('/api/orders', body({ customer_id: 'reuse', notes: 'different' }), { headers: { 'idempotency-key': 'key-reuse' } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await ordersFor('reuse')).toBe(1);
  });

  it('stores nothing for a rejected request, so the fixed request can use the same key', async () => {
    const bad = await t.rest.post('/api/orders', body({ customer_id: 'fixme', total: 1 }), { headers: { 'idempotency-key': 'key-fix' } });
    expect(bad.statusCode).toBe(422);
    const fixed = await t.rest.post('/api/orders', body({ customer_id: 'fixme' }), { headers: { 'idempotency-key': 'key-fix' } });
    expect(fixed.statusCode).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    const [row] = await t.app.db.em.fork().execute("select count(*)::int as n from idempotency_keys where key = 'key-fix'");
    expect(row.n).toBe(1);
  });

  it('gives 20 concurrent requests with one key exactly one order and one 201 that is not a replay', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.rest.post('/api/orders', body({ customer_id: 'stampede' }), { headers: { 'idempotency-key': 'key-stampede' } })));
    const created = results.filter((res) => res.statusCode === 201 && res.headers['idempotent-replayed'] === undefined);
    const replays = results.filter((res) => res.statusCode === 201 && res.headers['idempotent-replayed'] === 'true');
    const inProgress = results.filter((res) => res.statusCode === 409);
    expect(created).toHaveLength(1);
    expect(replays.length + inProgress.length).toBe(19);
    for (const res of inProgress) {
      expect(res.json().error.code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
      expect(res.headers['retry-after']).toBe('1');
    }
    for (const res of replays) expect(res.json().data.id).toBe(created[0]?.json().data.id);
    expect(await ordersFor('stampede')).toBe(1);
  });

  it('scopes keys to the workspace', async () => {
    const other = await t.bearer('globex');
    const mine = await t.rest.post('/api/orders', body({ customer_id: 'scoped' }), { headers: { 'idempotency-key': 'key-shared' } });
    const theirs = await t.rest.post('/api/orders', body({ customer_id: 'scoped' }), { headers: { 'idempotency-key': 'key-shared' }, authorization: other });
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.json().data.id).not.toBe(mine.json().data.id);
    expect(await ordersFor('scoped')).toBe(2);
  });

  it.each([
    ['x'.repeat(256), 'longer than 255'],
    ['has space', 'a space'],
    ['ключ', 'non-ASCII'],
  ])('refuses a key %j (%s) with 422 and stores nothing', async (key) => {
    const res = await t.rest.post('/api/orders', body({ customer_id: 'badkey' }), { headers: { 'idempotency-key': key } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field: 'idempotency_key', message: 'must be 1 to 255 visible ASCII characters' }]);
    expect(await ordersFor('badkey')).toBe(0);
  });

  it('accepts a 255-character key', async () => {
    expect((await t.rest.post('/api/orders', body({ customer_id: 'longkey' }), { headers: { 'idempotency-key': 'k'.repeat(255) } })).statusCode).toBe(201);
  });
});

describe('idempotencyKey on createOrder', () => {
  const CREATE = `mutation($input: CreateOrderInput!, $key: String) {
    createOrder(input: $input, idempotencyKey: $key) { replayed order { id orderNumber } userErrors { field message code } }
  }`;
  const input = (customerId: string, notes?: string) => ({
    customerId,
    items: [{ productId: 'p1', quantity: 2, price: '99.00' }],
    total: '198.00',
    metadata: { a: 1, b: 2 },
    ...(notes ? { notes } : {}),
  });

  it('replays, and refuses a different input under the same key', async () => {
    const first = (await t.gql(CREATE, { input: input('gql'), key: 'gql-1' })).json().data.createOrder;
    const again = (await t.gql(CREATE, { input: input('gql'), key: 'gql-1' })).json().data.createOrder;
    expect(first).toMatchObject({ replayed: false, userErrors: [] });
    expect(again).toStrictEqual({ ...first, replayed: true });
    const reused = (await t.gql(CREATE, { input: input('gql', 'other'), key: 'gql-1' })).json().data.createOrder;
    expect(reused).toStrictEqual({
      replayed: false,
      order: null,
      userErrors: [
        {
          field: ['idempotencyKey'],
          // The service's words, for either transport: no REST header name in a GraphQL answer.
          message: 'This idempotency key was already used for a different request; use a new key for a new order',
          code: 'IDEMPOTENCY_KEY_REUSED',
        },
      ],
    });
    expect(await ordersFor('gql')).toBe(1);
  });

  it('shares keys with REST: the same order under the same key is one order, whichever transport sent it', async () => {
    const rest = await t.rest.post('/api/orders', body({ customer_id: 'both' }), { headers: { 'idempotency-key': 'cross-1' } });
    const viaGraphQL = (await t.gql(CREATE, { input: input('both'), key: 'cross-1' })).json().data.createOrder;
    expect(viaGraphQL.replayed).toBe(true);
    expect(viaGraphQL.order.id).toBe(rest.json().data.id);
  });

  it('names the argument for a malformed key', async () => {
    const res = (await t.gql(CREATE, { input: input('gql-bad'), key: '' })).json().data.createOrder;
    expect(res.userErrors).toStrictEqual([
      { field: ['idempotencyKey'], message: 'must be 1 to 255 visible ASCII characters', code: 'VALIDATION_ERROR' },
    ]);
  });
});

describe('expiry', () => {
  it('forgets a key after its time to live, and sweeps expired keys in bounded batches', async () => {
    const short = await createTestApp({ idempotencyTtlMs: 1 });
    try {
      const key = await short.bearer('ttl');
      const client = clientFor(() => short, () => key);
      const send = (notes: string) =>
        client.rest.post('/api/orders', body({ customer_id: 'ttl', notes }), { headers: { 'idempotency-key': 'ttl-key' } });
      expect((await send('first')).statusCode).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Expired: the key is free for a new request.
      const second = await send('second');
      expect(second.statusCode).toBe(201);
      expect(second.headers['idempotent-replayed']).toBeUndefined();

      const em = short.app.db.em.fork();
      for (let i = 0; i < 25; i++) await send(`batch-${i}`).then(() => undefined);
      const [{ n: stored }] = await em.execute('select count(*)::int as n from idempotency_keys');
      expect(stored).toBe(1); // every send replaced the expired row under the same key
      await em.execute(
        `insert into idempotency_keys (workspace_id, key, fingerprint, order_id, response, created_at, expires_at)
         select workspace_id, 'old-' || g, fingerprint, order_id, response, now(), now() - interval '1 second'
         from idempotency_keys, generate_series(1, 25) g`,
      );
      await em.execute(
        `insert into idempotency_keys (workspace_id, key, fingerprint, order_id, response, created_at, expires_at)
         select workspace_id, 'live-' || g, fingerprint, order_id, response, now(), now() + interval '1 hour'
         from idempotency_keys, generate_series(1, 5) g where key = 'ttl-key'`,
      );
      expect(await em.getRepository(IdempotencyKeyEntity).sweepExpired(10, 100)).toBe(26);
      const [{ n: left }] = await em.execute("select count(*)::int as n from idempotency_keys where key like 'live-%'");
      expect(left).toBe(5);
      const [{ n: all }] = await em.execute('select count(*)::int as n from idempotency_keys');
      expect(all).toBe(5);
    } finally {
      await short.close();
    }
  });
});

describe.runIf(usingRealPostgres)('a claim held by a request that hung', () => {
  it('answers IN_PROGRESS while the claim is held, and lets the key be taken once PostgreSQL ends the hung session', async () => {
    const ctx = await t.app.services.auth.authenticate(t.auth);
    // Stands in for a gateway process stuck inside its create transaction.
    const hung = new Client({ connectionString: t.app.db.orm.config.get('clientUrl') });
    await hung.connect();
    hung.on('error', () => undefined); // PostgreSQL will end this session
    await hung.query("set idle_in_transaction_session_timeout = '1s'");
    await hung.query('begin');
    await hung.query('select pg_advisory_xact_lock($1::bigint)', [idempotencyLockId(ctx.workspaceId, 'key-hung')]);

    const blocked = await t.rest.post('/api/orders', body({ customer_id: 'hung' }), { headers: { 'idempotency-key': 'key-hung' } });
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json().error.code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    // When to look again: the first request is still running, so a retry a second later usually finds its answer.
    expect(blocked.headers['retry-after']).toBe('1');

    await new Promise((resolve) => setTimeout(resolve, 1500));
    const taken = await t.rest.post('/api/orders', body({ customer_id: 'hung' }), { headers: { 'idempotency-key': 'key-hung' } });
    expect(taken.statusCode).toBe(201);
    expect(await ordersFor('hung')).toBe(1);
    await hung.end().catch(() => undefined);
  });
});
