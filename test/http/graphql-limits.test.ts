import { describe, expect, it, vi } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config';
import { clientFor, createTestApp, type TestClient, useTestApp } from '../support/app';

const t = useTestApp();
const defaults: Config = loadConfig({ NODE_ENV: 'test' });

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; limit?: string };
}

async function limitErrors(source: string, app: TestClient = t) {
  const res = await app.gql(source);
  const errors = (res.json().errors ?? []) as GraphQLErrorBody[];
  return { res, errors, limits: errors.filter((error) => error.extensions?.code === 'QUERY_LIMIT_EXCEEDED') };
}

/** `n` levels of `ofType` under `__type`: depth is `n + 3` (`__type`, `fields`, `type`, the `ofType`s, `name`). */
const introspectionOfDepth = (depth: number) => {
  const ofTypes = depth - 4;
  return `{ __type(name: "Order") { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } }`;
};

describe('defaults', () => {
  it('are the documented ones', () => {
    expect(defaults).toMatchObject({
      graphqlMaxDepth: 8,
      graphqlMaxAliases: 15,
      graphqlMaxDirectives: 50,
      graphqlMaxTokens: 2000,
      graphqlMaxCost: 50_000,
      graphqlMaxResponseBytes: 4 * 1024 * 1024,
      maxEventLoopDelayMs: 200,
    });
  });
});

describe('each limit rejects a document just past its default, as a top-level error with a code', () => {
  it('depth', async () => {
    const atLimit = await limitErrors(introspectionOfDepth(8));
    expect(atLimit.res.statusCode).toBe(200);
    expect(atLimit.errors).toStrictEqual([]);
    const past = await limitErrors(introspectionOfDepth(9));
    expect(past.res.statusCode).toBe(400);
    expect(past.errors).toStrictEqual([
      {
        message: 'Query depth limit of 8 exceeded, found 9.',
        extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'depth' },
      },
    ]);
  });

  it('aliases', async () => {
    const aliased = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `a${i}: order(id: "order_${i}") { id }`).join(' ')} }`;
    expect((await limitErrors(aliased(15))).errors).toStrictEqual([]);
    const past = await limitErrors(aliased(16));
    expect(past.res.statusCode).toBe(400);
    expect(past.errors).toStrictEqual([
      {
        message: 'Aliases limit of 15 exceeded, found 16.',
        extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'aliases' },
      },
    ]);
  });

  it('aliases of __typename count too', async () => {
    // Armor leaves `__typename` out of the count by default, so `{ a: __typename a: __typename … }`
    // (hundreds of them within the token limit) passed, and graphql-js compares every pair of
    // fields sharing a response name: tens of milliseconds of CPU for each such request.
    const aliased = (n: number) => `{ ${Array.from({ length: n }, () => 'a: __typename').join(' ')} }`;
    expect((await limitErrors(aliased(15))).errors).toStrictEqual([]);
    const past = await limitErrors(aliased(500));
    expect(past.res.statusCode).toBe(400);
    expect(past.limits.map((error) => error.extensions?.limit)).toStrictEqual(['aliases']);
  });

  it('directives', async () => {
    const directed = (n: number) => `{ __typename ${'@include(if: true) '.repeat(n)}}`;
    expect((await limitErrors(directed(50))).limits).toStrictEqual([]);
    const past = await limitErrors(directed(51));
    expect(past.res.statusCode).toBe(400);
    expect(past.limits).toStrictEqual([
      {
        message: 'Directives limit of 50 exceeded, found 51.',
        extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'directives' },
      },
    ]);
  });

  it('tokens', async () => {
    // `{`, n − 2 × `__typename`, `}`. (At the limit, the document parses; graphql-js's own
    // field-merging budget then refuses that many repeats, which is not this limit.)
    const tokens = (n: number) => `{ ${'__typename '.repeat(n - 2)}}`;
    const atLimit = await limitErrors(tokens(2000));
    expect(atLimit.limits).toStrictEqual([]);
    expect(atLimit.errors.map((error) => error.extensions?.code)).not.toContain('GRAPHQL_PARSE_FAILED');
    const past = await limitErrors(tokens(2001));
    expect(past.res.statusCode).toBe(400);
    expect(past.errors).toStrictEqual([
      {
        message: 'Token limit of 2000 exceeded.',
        locations: expect.any(Array),
        extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'tokens' },
      },
    ]);
  });

  it('cost', async () => {
    // The cost of `orders(first: n) { edges { node { id items { productId } } } }` is
    // 1 + n × (edges 1 + node 1 + id 1 + items (1 + 500 × 1)) = 1 + 504 n: every order counts 500 items.
    const costing = (first: number) =>
      `{ orders(first: ${first}) { edges { node { id items { productId } } } } }`;
    expect((await limitErrors(costing(99))).limits).toStrictEqual([]); // 49,897
    const past = await limitErrors(costing(100)); // 50,401
    expect(past.res.statusCode).toBe(400);
    expect(past.limits).toStrictEqual([
      {
        message: 'Query cost limit of 50000 exceeded, found 50401.',
        extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'cost' },
      },
    ]);
  });

  it('cost: the schema says how large a page of orders with every field may be, and the default page is not', async () => {
    // What a client generated from the schema sees: orders' and first's descriptions.
    const described = await t.gql('{ __type(name: "Query") { fields { name description args { name description } } } }');
    const orders = described
      .json<{ data: { __type: { fields: { name: string; description: string; args: { name: string; description: string }[] }[] } } }>()
      .data.__type.fields.find((field) => field.name === 'orders')!;
    const first = orders.args.find((arg) => arg.name === 'first')!.description;
    const most = Number(/at most (\d+) orders/.exec(`${orders.description} ${first}`)?.[1]);
    expect(most, `${orders.description} / ${first}`).toBeGreaterThan(0);
    const address = '{ name company address address2 city state postalCode country phone email }';
    const everyField = (page: string) =>
      `{ orders${page} { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node {
        id orderNumber customerId status currency subtotal shipping tax total notes metadata trackingNumber trackingUrl createdAt updatedAt
        items { productId name quantity price sku subtotal } shippingAddress ${address} billingAddress ${address}
        statusHistory { status timestamp } } } } }`;
    expect((await limitErrors(everyField(`(first: ${most})`))).limits).toStrictEqual([]);
    expect((await limitErrors(everyField(`(first: ${most + 1})`))).limits.map((e) => e.extensions?.limit)).toStrictEqual(['cost']);
    // Without `first` (the default page of 50), too.
    expect((await limitErrors(everyField(''))).limits.map((e) => e.extensions?.limit)).toStrictEqual(['cost']);
  });

  it('cost, of a document padded with fragments that expand to thousands of selections', async () => {
    // `F_k` spreads `F_(k-1)` twice: 14 levels are 2^14 selections once expanded, which
    // graphql-query-complexity stops counting at its node limit, with an error. The
    // gateway took that error for one about variables and let the document run unpriced,
    // here with 100 orders of 500 items each.
    const fragments = ['fragment F0 on Query { __typename }'];
    for (let i = 1; i <= 14; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    const padded = `{ ...F14 orders(first: 100) { edges { node { id items { productId } } } } } ${fragments.join(' ')}`;
    const past = await limitErrors(padded);
    expect(past.res.statusCode).toBe(400);
    expect(past.limits.map((error) => error.extensions?.limit)).toStrictEqual(['cost']);
    // The padding alone is cheap to answer (execution collects each fragment once) but is still refused.
    const paddingOnly = await limitErrors(`{ ...F14 } ${fragments.join(' ')}`);
    expect(paddingOnly.res.statusCode).toBe(400);
    expect(paddingOnly.limits.map((error) => error.extensions?.limit)).toStrictEqual(['cost']);
  });

  it('cost, with the page size in a variable: one document, judged again for each size', async () => {
    // The gateway remembers the documents it allowed, with the page size they had: the same text
    // with a larger size must still be refused, and an input variable must not change the verdict.
    const source = `query($n: Int, $f: OrderFilter) { orders(first: $n, filter: $f) { edges { node { id items { productId } } } } }`;
    const verdict = async (n: number, status?: string) => {
      const res = await t.gql(source, { n, f: status ? { status } : null });
      const errors = (res.json().errors ?? []) as GraphQLErrorBody[];
      return {
        status: res.statusCode,
        limits: errors.filter((e) => e.extensions?.code === 'QUERY_LIMIT_EXCEEDED').map((e) => e.message),
      };
    };
    expect(await verdict(99)).toStrictEqual({ status: 200, limits: [] });
    expect(await verdict(99, 'PAID')).toStrictEqual({ status: 200, limits: [] });
    expect(await verdict(100)).toStrictEqual({
      status: 400,
      limits: ['Query cost limit of 50000 exceeded, found 50401.'],
    });
    expect(await verdict(99)).toStrictEqual({ status: 200, limits: [] });
    expect(await verdict(100, 'PAID')).toStrictEqual({
      status: 400,
      limits: ['Query cost limit of 50000 exceeded, found 50401.'],
    });
  });

  const ORDER = `id orderNumber customerId status items { productId name quantity price sku subtotal } subtotal shipping tax total currency
    shippingAddress { name company address address2 city state postalCode country phone email }
    billingAddress { name company address address2 city state postalCode country phone email }
    notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt`;
  const page = (first: number, fields: string) =>
    `{ orders(first: ${first}) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${fields} } } } }`;

  it('lets the largest legitimate requests through: a page of 100 orders with every field but items, or of 16 with items', async () => {
    for (const source of [page(100, ORDER.replace(/items \{[^}]*\}/, '')), page(16, ORDER)]) {
      const res = await t.gql(source);
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
      expect(res.json().errors).toBeUndefined();
    }
    expect((await limitErrors(page(17, ORDER))).limits.map((error) => error.extensions?.limit)).toStrictEqual(
      ['cost'],
    );
  });
});

describe('a rejected document costs no database work', () => {
  const tight = useTestApp({ graphqlMaxDepth: 3, graphqlMaxAliases: 2 });
  const ask = (source: string) => tight.gql(source);

  it('a deep query never reaches a resolver', async () => {
    const findOrders = vi.spyOn(tight.app.services.orders, 'findOrders');
    try {
      const deep = '{ orders { edges { node { items { productId } } } } }';
      const res = await ask(deep);
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0].extensions).toStrictEqual({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'depth' });
      expect(findOrders).not.toHaveBeenCalled();
      // The same query within the limit does reach the service.
      expect((await ask('{ orders { totalCount } }')).json().errors).toBeUndefined();
      expect(findOrders).toHaveBeenCalledTimes(1);
    } finally {
      findOrders.mockRestore();
    }
  });

  it('an aliased query never reaches a resolver', async () => {
    const getOrder = vi.spyOn(tight.app.services.orders, 'getOrder');
    try {
      const res = await ask(
        '{ a: order(id: "order_1") { id } b: order(id: "order_2") { id } c: order(id: "order_3") { id } }',
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0].extensions).toStrictEqual({
        code: 'QUERY_LIMIT_EXCEEDED',
        limit: 'aliases',
      });
      expect(getOrder).not.toHaveBeenCalled();
    } finally {
      getOrder.mockRestore();
    }
  });

  it('neither does a mutation past a limit', async () => {
    // The method the resolver calls; the control below proves the spy sees it.
    const createOrder = vi.spyOn(tight.app.services.orders, 'createOrderExactlyOnce');
    try {
      const res =
        await ask(`mutation { a: createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1"}) { order { id } }
        b: createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1"}) { order { id } }
        c: createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1"}) { order { id } } }`);
      expect(res.statusCode).toBe(400);
      expect(createOrder).not.toHaveBeenCalled();
      const rows = await tight.app.db.em
        .fork()
        .getConnection()
        .execute<{ count: string }[]>('select count(*)::text as count from orders');
      expect(rows[0]?.count).toBe('0');

      const allowed = await ask(
        'mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1"}) { userErrors { code } } }',
      );
      expect(allowed.statusCode).toBe(200);
      expect(createOrder).toHaveBeenCalledTimes(1);
    } finally {
      createOrder.mockRestore();
    }
  });
});

describe('HTTP protections', () => {
  it('refuses batched requests', async () => {
    const res = await t.rest.post('/graphql', [{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('batching');
  });

  it('refuses a GET without Authorization (what a cross-site page can send), and serves it with one', async () => {
    const url = `/graphql?query=${encodeURIComponent('{ __typename }')}`;
    const blocked = await t.rest.get(url, { authorization: null, headers: { 'x-api-key': 'none' } });
    // Authentication comes first: before the CSRF check and before any parsing.
    expect(blocked.statusCode).toBe(401);
    expect(blocked.json().errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const allowed = await t.rest.get(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toStrictEqual({ data: { __typename: 'Query' } });
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'refuses a POST with the simple content type %s (what a form or a no-cors fetch can send)',
    async (contentType) => {
      const res = await t.gql('mutation { __typename }', {}, { headers: { 'content-type': contentType } });
      expect(res.statusCode).toBe(415);
    },
  );
});

describe('introspection and suggestions', () => {
  it('are on outside production: introspection works, and suggestions are given', async () => {
    expect((await t.gql('{ __schema { queryType { name } } }')).json()).toStrictEqual({
      data: { __schema: { queryType: { name: 'Query' } } },
    });
    const typo = await t.gql('{ ordr(id: "x") { id } }');
    expect(typo.json().errors[0].message).toBe(
      'Cannot query field "ordr" on type "Query". Did you mean "order" or "orders"?',
    );
  });

  describe('under NODE_ENV=production', () => {
    const prod = useTestApp(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'info' }));
    const ask = (body: unknown) => prod.rest.post('/graphql', body);

    it('introspection is off', async () => {
      for (const source of ['{ __schema { queryType { name } } }', '{ __type(name: "Order") { name } }']) {
        const res = await ask({ query: source });
        expect(res.statusCode).toBe(400);
        expect(res.json().errors[0]).toMatchObject({
          message: expect.stringMatching(/introspection is not allowed/),
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        });
      }
    });

    it('suggestions are hidden, for fields, arguments and enum values alike', async () => {
      const field = await ask({ query: '{ ordr(id: "x") { id } }' });
      expect(field.json().errors[0].message).toBe('Cannot query field "ordr" on type "Query".');
      const argument = await ask({ query: '{ order(idd: "x") { id } }' });
      expect(
        argument
          .json()
          .errors.map((error: GraphQLErrorBody) => error.message)
          .join(' '),
      ).not.toMatch(/Did you mean/);
      const enumValue = await ask({
        query: 'query($f: OrderFilter) { orders(filter: $f) { totalCount } }',
        variables: { f: { status: 'PAIDD' } },
      });
      expect(enumValue.json().errors[0].message).not.toMatch(/Did you mean|PAID"/);
      expect(enumValue.json().errors[0].message).toContain('"PAIDD"');
    });

    it('can be turned back on with INTROSPECTION=true', async () => {
      const open = await createTestApp(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }));
      try {
        const key = await open.bearer('acme');
        const res = await clientFor(
          () => open,
          () => key,
        ).gql('{ __schema { queryType { name } } }');
        expect(res.json()).toStrictEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
      } finally {
        await open.close();
      }
    });
  });
});
