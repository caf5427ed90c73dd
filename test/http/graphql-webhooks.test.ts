/** Webhook management over GraphQL (events contract §4), scoped to the caller's workspace. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { eventually } from '../support/nats';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const t = useTestApp({ webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100, webhookRetrySchedule: [100] });
let receiver: Receiver;
let other: string;
beforeAll(async () => {
  receiver = await startReceiver([200]);
  other = await t.bearer('globex');
});
afterAll(() => receiver?.close());

const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id url events enabled createdAt } secret userErrors { field message code } }
}`;
const DELIVERIES = `query($id: ID!, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $id, first: $first, after: $after) {
    edges { cursor node { id eventId eventType status deliveredAt attempts { statusCode error durationMs } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}`;

const data = async (query: string, variables: Record<string, unknown> = {}, authorization?: string) => {
  const res = await t.gql(query, variables, authorization ? { authorization } : {});
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  expect(body.errors, res.body).toBeUndefined();
  return body.data;
};

describe('webhook endpoints over GraphQL', () => {
  let endpointId: string;

  it('createWebhookEndpoint returns the endpoint and its secret once; webhookEndpoints lists it without the secret', async () => {
    const created = (await data(CREATE, { input: { url: receiver.url, events: ['ORDER_CREATED', 'ORDER_STATUS_CHANGED'] } })).createWebhookEndpoint;
    expect(created.userErrors).toStrictEqual([]);
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.endpoint).toMatchObject({ url: receiver.url, events: ['ORDER_CREATED', 'ORDER_STATUS_CHANGED'], enabled: true });
    endpointId = created.endpoint.id;
    receiver.secret = created.secret;
    expect((await data('{ webhookEndpoints { id url events } }')).webhookEndpoints).toStrictEqual([
      { id: endpointId, url: receiver.url, events: ['ORDER_CREATED', 'ORDER_STATUS_CHANGED'] },
    ]);
    expect((await t.gql('{ webhookEndpoints { secret } }')).json().errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('another workspace sees none of it', async () => {
    expect((await data('{ webhookEndpoints { id } }', {}, other)).webhookEndpoints).toStrictEqual([]);
    expect((await data(DELIVERIES, { id: endpointId }, other)).webhookDeliveries).toBeNull();
    const deleted = (await data('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { field code } } }', { id: endpointId }, other))
      .deleteWebhookEndpoint;
    expect(deleted).toStrictEqual({ deletedId: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND' }] });
  });

  it('webhookDeliveries pages the deliveries with their attempts, and redeliverWebhook sends one again', async () => {
    for (let i = 0; i < 3; i++) await t.rest.post('/api/orders', { customer_id: `c${i}`, items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
    await eventually(async () => receiver.received.length === 3, 10_000, 'three deliveries');
    expect(receiver.received.every((request) => request.verified)).toBe(true);
    // The receiver has its requests before the dispatcher logs their answers: wait for the log.
    await eventually(
      async () =>
        ((await data(DELIVERIES, { id: endpointId, first: 3 })).webhookDeliveries.edges as { node: { status: string } }[])
          .every((edge) => edge.node.status === 'DELIVERED'),
      10_000,
      'three deliveries logged as delivered',
    );

    const first = (await data(DELIVERIES, { id: endpointId, first: 2 })).webhookDeliveries;
    expect(first.edges).toHaveLength(2);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(first.edges[0].node).toMatchObject({ eventType: 'ORDER_CREATED', status: 'DELIVERED', attempts: [{ statusCode: 200, error: null }] });
    const rest = (await data(DELIVERIES, { id: endpointId, first: 2, after: first.pageInfo.endCursor })).webhookDeliveries;
    expect(rest.edges).toHaveLength(1);
    expect(rest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const ids = [...first.edges, ...rest.edges].map((edge: { node: { id: string } }) => edge.node.id);
    expect(new Set(ids).size).toBe(3);

    const REDELIVER = 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { id status } userErrors { field code } } }';
    expect((await data(REDELIVER, { id: ids[0] }, other)).redeliverWebhook).toStrictEqual({
      delivery: null,
      userErrors: [{ field: ['deliveryId'], code: 'NOT_FOUND' }],
    });
    expect((await data(REDELIVER, { id: ids[0] })).redeliverWebhook).toStrictEqual({ delivery: { id: ids[0], status: 'PENDING' }, userErrors: [] });
    await eventually(async () => receiver.received.length === 4, 10_000, 'the redelivery');
    expect(receiver.received[3]?.headers['webhook-id']).toBe(first.edges[0].node.eventId);
  });

  it('updateWebhookEndpoint pauses and resumes an endpoint of the workspace; another workspace gets NOT_FOUND', async () => {
    const UPDATE = `mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
      updateWebhookEndpoint(id: $id, input: $input) { endpoint { id url events enabled } userErrors { field message code } }
    }`;
    expect((await data(UPDATE, { id: endpointId, input: { enabled: false } }, other)).updateWebhookEndpoint).toMatchObject({
      endpoint: null,
      userErrors: [{ field: ['id'], code: 'NOT_FOUND' }],
    });
    expect((await data(UPDATE, { id: endpointId, input: { enabled: false } })).updateWebhookEndpoint).toStrictEqual({
      endpoint: { id: endpointId, url: receiver.url, events: ['ORDER_CREATED', 'ORDER_STATUS_CHANGED'], enabled: false },
      userErrors: [],
    });
    expect((await data('{ webhookEndpoints { id enabled } }')).webhookEndpoints).toStrictEqual([{ id: endpointId, enabled: false }]);
    expect((await data(UPDATE, { id: endpointId, input: { url: 'ftp://example.com/x' } })).updateWebhookEndpoint).toStrictEqual({
      endpoint: null,
      userErrors: [{ field: ['input', 'url'], message: 'must be an http or https URL', code: 'VALIDATION_ERROR' }],
    });
    expect((await data(UPDATE, { id: endpointId, input: { enabled: true } })).updateWebhookEndpoint.endpoint.enabled).toBe(true);
  });

  it('rotateWebhookSecret returns a new secret once, for the workspace’s own endpoint only', async () => {
    const ROTATE = `mutation($id: ID!, $seconds: Int) {
      rotateWebhookSecret(id: $id, previousSecretValidForSeconds: $seconds) { endpoint { id previousSecretExpiresAt } secret userErrors { field code } }
    }`;
    expect((await data(ROTATE, { id: endpointId }, other)).rotateWebhookSecret).toStrictEqual({
      endpoint: null,
      secret: null,
      userErrors: [{ field: ['id'], code: 'NOT_FOUND' }],
    });
    expect((await data(ROTATE, { id: endpointId, seconds: 700_000 })).rotateWebhookSecret.userErrors).toStrictEqual([
      { field: ['previousSecretValidForSeconds'], code: 'VALIDATION_ERROR' },
    ]);
    const rotated = (await data(ROTATE, { id: endpointId })).rotateWebhookSecret;
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(receiver.secret);
    expect(Date.parse(rotated.endpoint.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
    receiver.secret = rotated.secret;
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ after: 'bm90IGEgY3Vyc29y' }, 'after'],
    // Well-formed JSON whose time JavaScript parses ("1" is 2001-01-01) but PostgreSQL does not.
    [{ after: Buffer.from(JSON.stringify(['1', `whdl_${'0'.repeat(32)}`])).toString('base64url') }, 'after'],
    [{ after: Buffer.from(JSON.stringify(['+275760-09-13T00:00:00Z', `whdl_${'0'.repeat(32)}`])).toString('base64url') }, 'after'],
    [{ after: Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000Z', `whdl_${'0'.repeat(32)}`])).toString('base64url') }, 'after'],
  ])('webhookDeliveries refuses %j', async (variables, field) => {
    const body = (await t.gql(DELIVERIES, { id: endpointId, ...variables })).json();
    expect(body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', fields: [{ path: [field] }] });
  });

  it.each([
    ['a NUL byte', 'whep_\u0000'],
    ['another shape', 'whep_../../etc'],
  ])('an endpoint or delivery id with %s names none of yours: null and NOT_FOUND, never an internal error', async (_what, id) => {
    expect((await data(DELIVERIES, { id })).webhookDeliveries).toBeNull();
    const deleted = (await data('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { field code } } }', { id }))
      .deleteWebhookEndpoint;
    expect(deleted).toStrictEqual({ deletedId: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND' }] });
    const REDELIVER = 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { id } userErrors { field code } } }';
    expect((await data(REDELIVER, { id: id.replace('whep_', 'whdl_') })).redeliverWebhook).toStrictEqual({
      delivery: null,
      userErrors: [{ field: ['deliveryId'], code: 'NOT_FOUND' }],
    });
  });

  it.each([
    ['ftp://example.com/x', 'must be an http or https URL'],
    ['http://user:pw@example.com/x', 'must not carry credentials'],
  ])('createWebhookEndpoint puts a bad URL (%s) in userErrors', async (url, message) => {
    const created = (await data(CREATE, { input: { url } })).createWebhookEndpoint;
    expect(created).toStrictEqual({ endpoint: null, secret: null, userErrors: [{ field: ['input', 'url'], message, code: 'VALIDATION_ERROR' }] });
  });

  it('deleteWebhookEndpoint deletes it, and it receives nothing more', async () => {
    const deleted = (await data('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code } } }', { id: endpointId }))
      .deleteWebhookEndpoint;
    expect(deleted).toStrictEqual({ deletedId: endpointId, userErrors: [] });
    expect((await data('{ webhookEndpoints { id } }')).webhookEndpoints).toStrictEqual([]);
    const before = receiver.received.length;
    await t.rest.post('/api/orders', { customer_id: 'after', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received).toHaveLength(before);
  });
});

describe('webhook endpoints and deliveries are Relay nodes (graphql-eslint’s relay-edge-types)', () => {
  it('node(id:) answers a webhook endpoint and a delivery of the workspace by their ids, and null for another workspace', async () => {
    const created = await data(
      'mutation Create($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } userErrors { code } } }',
      // Nothing listens on port 9: the delivery is made all the same, and fails.
      { input: { url: 'http://127.0.0.1:9/hook' } },
    );
    const endpointId: string = created.createWebhookEndpoint.endpoint.id;
    await t.rest.post('/api/orders', { customer_id: 'c1', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
    let deliveryId = '';
    await eventually(
      async () => {
        deliveryId = (await data(DELIVERIES, { id: endpointId })).webhookDeliveries.edges[0]?.node.id ?? '';
        return deliveryId !== '';
      },
      10_000,
      'a delivery',
    );

    const NODE = `query Node($id: ID!) {
      node(id: $id) { __typename id ... on WebhookEndpoint { url } ... on WebhookDelivery { eventType } }
    }`;
    expect((await data(NODE, { id: endpointId })).node).toStrictEqual({ __typename: 'WebhookEndpoint', id: endpointId, url: 'http://127.0.0.1:9/hook' });
    expect((await data(NODE, { id: deliveryId })).node).toStrictEqual({ __typename: 'WebhookDelivery', id: deliveryId, eventType: 'ORDER_CREATED' });
    expect((await data(NODE, { id: endpointId }, other)).node).toBeNull();
    expect((await data(NODE, { id: deliveryId }, other)).node).toBeNull();
    expect((await data(NODE, { id: 'whep_nothing' })).node).toBeNull();
    expect((await data(NODE, { id: 'whdl_nothing' })).node).toBeNull();
  });
});
