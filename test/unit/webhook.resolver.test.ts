/**
 * The webhook resolvers against the real schema with a fake service, as
 * order.resolver.test.ts does for orders: no HTTP, no database.
 */
import type { GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import type { GraphQLContext, OrderOperations, WebhookOperations } from '../../src/graphql/context';
import { nullWhenNotFound } from '../../src/graphql/errors';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { WebhookResolver } from '../../src/graphql/webhook.resolver';
import { delivery, endpoint, fakeWebhooks, runGraphQL, untouchable, workspace } from '../support/resolvers';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGraphQLSchema();
});

/** The webhook resolvers never touch orders. */
const noOrders = untouchable<OrderOperations>('orders');

const run = (source: string, webhooks: WebhookOperations, variableValues?: Record<string, unknown>) =>
  runGraphQL(schema, source, { webhooks }, variableValues);

describe('createWebhookEndpoint', () => {
  const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) { endpoint { id url events enabled } secret userErrors { field message code } }
  }`;

  it('hands the service the URL and event types in the workspace, and shows the secret once', async () => {
    const webhooks = fakeWebhooks();
    const result = await run(CREATE, webhooks, { input: { url: endpoint.url, events: ['ORDER_CREATED'] } });
    expect(webhooks.createEndpoint).toHaveBeenCalledWith(workspace, { url: endpoint.url, events: ['order.created'] });
    expect(result).toStrictEqual({
      data: {
        createWebhookEndpoint: {
          endpoint: { id: endpoint.id, url: endpoint.url, events: ['ORDER_CREATED'], enabled: true },
          secret: 'whsec_secret',
          userErrors: [],
        },
      },
    });
  });

  it('returns the service’s validation errors as userErrors under input', async () => {
    const webhooks = fakeWebhooks({
      createEndpoint: async () => {
        throw AppError.validation([{ path: ['url'], message: 'must reach a public address' }]);
      },
    });
    const result = await run(CREATE, webhooks, { input: { url: 'http://10.0.0.1/' } });
    expect(result.data?.createWebhookEndpoint).toStrictEqual({
      endpoint: null,
      secret: null,
      userErrors: [{ field: ['input', 'url'], message: 'must reach a public address', code: 'VALIDATION_ERROR' }],
    });
  });
});

describe('updateWebhookEndpoint', () => {
  const UPDATE = `mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
    updateWebhookEndpoint(id: $id, input: $input) { endpoint { id enabled } userErrors { field message code } }
  }`;

  it('hands the service the id and the fields, event types as the contract names them, and returns the endpoint', async () => {
    const webhooks = fakeWebhooks();
    const result = await run(UPDATE, webhooks, { id: endpoint.id, input: { enabled: false, events: ['ORDER_UPDATED'] } });
    expect(webhooks.updateEndpoint).toHaveBeenCalledWith(workspace, endpoint.id, { url: undefined, events: ['order.updated'], enabled: false });
    expect(result.data?.updateWebhookEndpoint).toStrictEqual({ endpoint: { id: endpoint.id, enabled: false }, userErrors: [] });
  });

  it('returns validation errors under input and NOT_FOUND under id', async () => {
    const refused = fakeWebhooks({
      updateEndpoint: async () => {
        throw AppError.validation([{ path: ['url'], message: 'must be an http or https URL' }]);
      },
    });
    expect((await run(UPDATE, refused, { id: endpoint.id, input: { url: 'ftp://x' } })).data?.updateWebhookEndpoint).toStrictEqual({
      endpoint: null,
      userErrors: [{ field: ['input', 'url'], message: 'must be an http or https URL', code: 'VALIDATION_ERROR' }],
    });
    const missing = fakeWebhooks({
      updateEndpoint: async () => {
        throw AppError.notFound('Webhook endpoint');
      },
    });
    expect((await run(UPDATE, missing, { id: endpoint.id, input: {} })).data?.updateWebhookEndpoint).toMatchObject({
      endpoint: null,
      userErrors: [{ field: ['id'], code: 'NOT_FOUND' }],
    });
  });
});

describe('rotateWebhookSecret', () => {
  const ROTATE = `mutation($id: ID!, $seconds: Int) {
    rotateWebhookSecret(id: $id, previousSecretValidForSeconds: $seconds) { endpoint { id previousSecretExpiresAt } secret userErrors { field message code } }
  }`;

  it('hands the service the id and the grace period, and shows the new secret once', async () => {
    const webhooks = fakeWebhooks();
    const result = await run(ROTATE, webhooks, { id: endpoint.id, seconds: 3600 });
    expect(webhooks.rotateSecret).toHaveBeenCalledWith(workspace, endpoint.id, 3600);
    expect(result.data?.rotateWebhookSecret).toStrictEqual({
      endpoint: { id: endpoint.id, previousSecretExpiresAt: '2025-03-28T15:00:00.000Z' },
      secret: 'whsec_new',
      userErrors: [],
    });
  });

  it('names the argument itself in a validation error, and the id in NOT_FOUND', async () => {
    const refused = fakeWebhooks({
      rotateSecret: async () => {
        throw AppError.validation([{ path: ['previous_secret_valid_for_seconds'], message: 'must be a whole number of seconds from 0 to 604800' }]);
      },
    });
    expect((await run(ROTATE, refused, { id: endpoint.id, seconds: -1 })).data?.rotateWebhookSecret).toStrictEqual({
      endpoint: null,
      secret: null,
      userErrors: [{ field: ['previousSecretValidForSeconds'], message: 'must be a whole number of seconds from 0 to 604800', code: 'VALIDATION_ERROR' }],
    });
    const missing = fakeWebhooks({
      rotateSecret: async () => {
        throw AppError.notFound('Webhook endpoint');
      },
    });
    expect((await run(ROTATE, missing, { id: endpoint.id })).data?.rotateWebhookSecret).toMatchObject({
      secret: null,
      userErrors: [{ field: ['id'], code: 'NOT_FOUND' }],
    });
  });
});

describe('deleteWebhookEndpoint and redeliverWebhook', () => {
  it('name the id argument in a NOT_FOUND userError', async () => {
    const webhooks = fakeWebhooks({
      deleteEndpoint: async () => {
        throw AppError.notFound('Webhook endpoint');
      },
      redeliver: async () => {
        throw AppError.notFound('Webhook delivery');
      },
    });
    const result = await run(
      `mutation { deleteWebhookEndpoint(id: "whep_x") { deletedId userErrors { field code } }
                  redeliverWebhook(deliveryId: "whdl_x") { delivery { id } userErrors { field code } } }`,
      webhooks,
    );
    expect(result.data).toStrictEqual({
      deleteWebhookEndpoint: { deletedId: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND' }] },
      redeliverWebhook: { delivery: null, userErrors: [{ field: ['deliveryId'], code: 'NOT_FOUND' }] },
    });
  });
});

describe('deleteWebhookEndpoint and redeliverWebhook take no input', () => {
  it('name their id argument in any userError, never an input argument they do not have', async () => {
    const webhooks = fakeWebhooks({
      deleteEndpoint: async () => Promise.reject(AppError.validation([{ path: ['id'], message: 'is not an endpoint id' }])),
      redeliver: async () => Promise.reject(AppError.validation([{ path: [], message: 'cannot be redelivered' }])),
    });
    const result = await run(
      `mutation { deleteWebhookEndpoint(id: "whep_x") { deletedId userErrors { field message code } }
                  redeliverWebhook(deliveryId: "whdl_x") { delivery { id } userErrors { field message code } } }`,
      webhooks,
    );
    expect(result.data).toStrictEqual({
      deleteWebhookEndpoint: { deletedId: null, userErrors: [{ field: ['id'], message: 'is not an endpoint id', code: 'VALIDATION_ERROR' }] },
      redeliverWebhook: { delivery: null, userErrors: [{ field: ['deliveryId'], message: 'cannot be redelivered', code: 'VALIDATION_ERROR' }] },
    });
  });
});

describe('webhookDeliveries', () => {
  const DELIVERIES = `query($first: Int, $after: String) {
    webhookDeliveries(endpointId: "${endpoint.id}", first: $first, after: $after) {
      edges { cursor node { id status attempts { statusCode durationMs } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;

  it('passes the page arguments through and the service’s page on, hasPreviousPage included', async () => {
    // The service decides what a page is; the resolver only shapes it.
    const webhooks = fakeWebhooks({
      listDeliveries: vi.fn(async () => ({ edges: [{ cursor: 'd2', delivery }], hasNextPage: true, hasPreviousPage: true })),
    });
    const result = await run(DELIVERIES, webhooks, { first: 1 });
    expect(webhooks.listDeliveries).toHaveBeenCalledWith(workspace, endpoint.id, { first: 1, after: undefined });
    expect(result.data?.webhookDeliveries).toStrictEqual({
      edges: [{ cursor: 'd2', node: { id: delivery.id, status: 'FAILED', attempts: [{ statusCode: 500, durationMs: 12 }] } }],
      pageInfo: { hasNextPage: true, hasPreviousPage: true, startCursor: 'd2', endCursor: 'd2' },
    });
  });

  it('is null for an endpoint the workspace does not have', async () => {
    const webhooks = fakeWebhooks({
      listDeliveries: async () => {
        throw AppError.notFound('Webhook endpoint');
      },
    });
    expect(await run(DELIVERIES, webhooks)).toStrictEqual({ data: { webhookDeliveries: null } });
  });

  it('names a bad page argument by its GraphQL name in a top-level VALIDATION_ERROR', async () => {
    const webhooks = fakeWebhooks({
      listDeliveries: async () => {
        throw AppError.validation([{ path: ['after'], message: 'is not a cursor this API gave out' }]);
      },
    });
    const result = await run(DELIVERIES, webhooks, { after: 'nonsense' });
    expect(result.data).toStrictEqual({ webhookDeliveries: null });
    expect(result.errors?.[0]).toMatchObject({
      message: 'Invalid request: after is not a cursor this API gave out',
      extensions: { code: 'VALIDATION_ERROR', fields: [{ path: ['after'], message: 'is not a cursor this API gave out' }] },
    });
  });
});

describe('without the schema', () => {
  it('a resolver is a plain class: call its method with a context', async () => {
    const webhooks = fakeWebhooks();
    const ctx: GraphQLContext = { requestContext: workspace, orders: noOrders, webhooks };
    expect(await new WebhookResolver().webhookEndpoints(ctx)).toStrictEqual([endpoint]);
    expect(webhooks.listEndpoints).toHaveBeenCalledWith(workspace);
  });
});

describe('nullWhenNotFound (errors.ts): the one mapping of NOT_FOUND to a null query answer', () => {
  it('is null for NOT_FOUND and passes every other outcome on', async () => {
    expect(await nullWhenNotFound(async () => 'found')).toBe('found');
    expect(await nullWhenNotFound(async () => Promise.reject(AppError.notFound('Order x')))).toBeNull();
    const validation = AppError.validation([{ path: ['id'], message: 'bad' }]);
    await expect(nullWhenNotFound(async () => Promise.reject(validation))).rejects.toBe(validation);
    await expect(nullWhenNotFound(async () => Promise.reject(new Error('lost')))).rejects.toThrow('lost');
  });
});
