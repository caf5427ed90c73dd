/** Load: the requests, autocannon rounds per path and target, and their summaries. */
import autocannon from 'autocannon';
import { type HeapReading, type Server, aborting, setCurrentLoad } from './processes';
import { type PathKey, settings } from './settings';
import { median, round2, withTimeout } from './util';

// ---------------------------------------------------------------------------
// Requests: the seed's order (2 items), in REST and GraphQL form

export const REST_BODY = (customer: string, overrides = '') =>
  `{"customer_id":"${customer}","items":[` +
  `{"product_id":"prod_001","name":"Premium Widget","quantity":2,"price":99.00,"sku":"WGT-PRE"},` +
  `{"product_id":"prod_002","name":"Widget Accessory","quantity":1,"price":29.00,"sku":"WGT-ACC"}],` +
  `"total":227.00,"currency":"USD",` +
  `"shipping_address":{"name":"John Doe","address":"123 Main St","city":"Jakarta","state":"DKI","postal_code":"12345","country":"ID"},` +
  `"notes":"Please gift wrap this order"${overrides}}`;

export const ORDER_FIELDS = `id orderNumber customerId status
  items { productId name quantity price sku subtotal }
  subtotal shipping tax total currency
  shippingAddress { name company address address2 city state postalCode country phone email }
  billingAddress { name company address address2 city state postalCode country phone email }
  notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt`;

export const CREATE_MUTATION = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { order { ${ORDER_FIELDS} } userErrors { field message code } }
}`;

export const GRAPHQL_BODY = (price = '99.00') =>
  JSON.stringify({
    query: CREATE_MUTATION,
    variables: {
      input: {
        customerId: 'contact_abc123',
        items: [
          { productId: 'prod_001', name: 'Premium Widget', quantity: 2, price, sku: 'WGT-PRE' },
          { productId: 'prod_002', name: 'Widget Accessory', quantity: 1, price: '29.00', sku: 'WGT-ACC' },
        ],
        total: '227.00',
        currency: 'USD',
        shippingAddress: {
          name: 'John Doe',
          address: '123 Main St',
          city: 'Jakarta',
          state: 'DKI',
          postalCode: '12345',
          country: 'ID',
        },
        notes: 'Please gift wrap this order',
      },
    },
  });

// ---------------------------------------------------------------------------
// Accounting: every 2xx create the bench saw, to compare with the database

export const accounting = {
  /** Creates answered 2xx with an order. */
  created: 0,
  /** The ids of those orders (bounded; past the bound only the count is checked). */
  createdIds: [] as string[],
  /** 2xx creates whose id could not be read from the body. */
  withoutId: 0,
  /** Requests abandoned by autocannon at the end of a round: the server may still commit them. */
  abortedInFlight: 0,
};
export const MAX_CREATED_IDS = 2_000_000;
/** GET by id cycles through these. */
export const orderIds: string[] = [];
export const MAX_GET_IDS = 5000;
export const ORDER_ID = /"id":"(order_[0-9A-Za-z]+)"/;

/** Books one create that answered 2xx with an order; `body` is its response. */
export function recordCreated(body: string): void {
  accounting.created++;
  const id = ORDER_ID.exec(body.slice(0, 200))?.[1];
  if (!id) {
    accounting.withoutId++;
    return;
  }
  if (accounting.createdIds.length < MAX_CREATED_IDS) accounting.createdIds.push(id);
  if (orderIds.length < MAX_GET_IDS) orderIds.push(id);
}

export interface Target {
  name: 'gateway' | 'baseline';
  server: Server;
}

export interface Probe {
  name: string;
  status: number;
  code?: string;
  body: unknown;
  text: string;
}

export async function call(
  server: Server,
  method: string,
  urlPath: string,
  options: { body?: string; auth?: string | null; contentType?: string } = {},
): Promise<Probe & { headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.auth) headers.authorization = options.auth;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${server.url}${urlPath}`, {
    method,
    headers,
    body: options.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON; kept as text.
  }
  const code = (body as { error?: { code?: string } })?.error?.code;
  return { name: '', status: response.status, code, body, text, headers: response.headers };
}

// ---------------------------------------------------------------------------
// Load

export interface RoundResult {
  round: number;
  target: string;
  seconds: number;
  ok: number;
  perSecond: number;
  responses: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  peakRssMb?: number;
  heap?: HeapReading | null;
  /** Average database sessions by state during the round (real PostgreSQL). */
  dbSessions?: Record<string, number>;
}

export interface PathSpec {
  key: PathKey;
  label: string;
  create: boolean;
  /** The request for this target; the baseline's counterpart of GraphQL create is its REST create. */
  requests(target: Target, auth: string): autocannon.Request[];
  counts(target: Target): (status: number, body: string) => boolean;
}

export let getCursor = 0;
export const PATHS: Record<PathKey, PathSpec> = {
  'rest-create': {
    key: 'rest-create',
    label: 'REST create',
    create: true,
    requests: (_target, auth) => [
      {
        method: 'POST',
        path: '/api/orders',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: REST_BODY('contact_abc123'),
      },
    ],
    counts: () => (status, body) => status === 201 && body.startsWith('{"success":true'),
  },
  'graphql-create': {
    key: 'graphql-create',
    label: 'GraphQL create',
    create: true,
    requests: (target, auth) =>
      target.name === 'gateway'
        ? [
            {
              method: 'POST',
              path: '/graphql',
              headers: { authorization: auth, 'content-type': 'application/json' },
              body: GRAPHQL_BODY(),
            },
          ]
        : PATHS['rest-create'].requests(target, auth),
    counts: (target) =>
      target.name === 'gateway'
        ? (status, body) =>
            status === 200 && body.includes('"orderNumber":"ORD-') && body.includes('"userErrors":[]')
        : PATHS['rest-create'].counts(target),
  },
  get: {
    key: 'get',
    label: 'GET by id',
    create: false,
    requests: (_target, auth) => [
      {
        method: 'GET',
        headers: { authorization: auth },
        setupRequest: (request) => {
          request.path = `/api/orders/${orderIds[getCursor++ % orderIds.length]}`;
          return request;
        },
      },
    ],
    counts: () => (status) => status === 200,
  },
  list: {
    key: 'list',
    label: 'list',
    create: false,
    requests: (_target, auth) => [{ method: 'GET', path: '/api/orders', headers: { authorization: auth } }],
    counts: () => (status) => status === 200,
  },
};

export async function runLoad(
  spec: PathSpec,
  target: Target,
  auth: string,
  seconds: number,
  round: number,
): Promise<RoundResult> {
  const counts = spec.counts(target);
  let ok = 0;
  let responses = 0;
  const requests = spec.requests(target, auth).map((request) => ({
    ...request,
    onResponse: (status: number, body: string) => {
      responses++;
      if (counts(status, body)) {
        ok++;
        if (spec.create) recordCreated(body);
      }
    },
  }));
  const instance = autocannon({
    url: target.server.url,
    connections: settings.connections,
    duration: seconds,
    timeout: 10,
    requests,
  });
  setCurrentLoad(instance);
  let result: autocannon.Result;
  try {
    result = await withTimeout(
      Promise.resolve(instance),
      (seconds + 60) * 1000,
      `${spec.label} on ${target.name}`,
    );
  } catch (error) {
    instance.stop();
    throw error;
  } finally {
    setCurrentLoad(undefined);
  }
  if (aborting) throw new Error(aborting);
  if (spec.create) {
    // Requests still in flight when autocannon stops are abandoned by the client but may still commit.
    accounting.abortedInFlight += Math.max(
      0,
      Math.min(result.requests.sent - responses, settings.connections),
    );
  }
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  return {
    round,
    target: target.name,
    seconds: result.duration,
    ok,
    perSecond: Math.round(ok / result.duration),
    responses,
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: round2(result.latency.mean),
    max: result.latency.max,
  };
}

export interface Summary {
  perSecond: number;
  p50: number;
  p99: number;
  rounds: number;
  ok: number;
  bad: number;
  statusCodes: Record<string, number>;
  dbSessions?: Record<string, number>;
}

export function averageSessions(rounds: RoundResult[]): Record<string, number> | undefined {
  const sampled = rounds.filter((entry) => entry.dbSessions);
  if (sampled.length === 0) return undefined;
  const sums: Record<string, number> = {};
  for (const entry of sampled)
    for (const [kind, n] of Object.entries(entry.dbSessions ?? {})) sums[kind] = (sums[kind] ?? 0) + n;
  return Object.fromEntries(
    Object.entries(sums)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, sum]) => [kind, round2(sum / sampled.length)]),
  );
}

export function summarise(rounds: RoundResult[]): Summary {
  return {
    dbSessions: averageSessions(rounds),
    statusCodes: rounds.reduce<Record<string, number>>((codes, entry) => {
      for (const [code, count] of Object.entries(entry.statusCodes)) codes[code] = (codes[code] ?? 0) + count;
      if (entry.errors > 0) codes.errors = (codes.errors ?? 0) + entry.errors;
      if (entry.timeouts > 0) codes.timeouts = (codes.timeouts ?? 0) + entry.timeouts;
      return codes;
    }, {}),
    perSecond: Math.round(median(rounds.map((entry) => entry.perSecond))),
    p50: median(rounds.map((entry) => entry.p50)),
    p99: median(rounds.map((entry) => entry.p99)),
    rounds: rounds.length,
    ok: rounds.reduce((sum, entry) => sum + entry.ok, 0),
    bad: rounds.reduce((sum, entry) => sum + entry.responses - entry.ok + entry.errors + entry.timeouts, 0),
  };
}

export interface PathReport {
  key: PathKey;
  label: string;
  available: boolean;
  note?: string;
  gateway?: Summary;
  baseline?: Summary;
  ratio?: number | null;
  p99Ratio?: number | null;
  target?: { ratio: number; stretch?: number };
  rounds: RoundResult[];
}

export const TARGETS: Partial<Record<PathKey, { ratio: number; stretch?: number }>> = {
  'rest-create': { ratio: 0.75 },
  'graphql-create': { ratio: 0.6, stretch: 0.8 },
};
