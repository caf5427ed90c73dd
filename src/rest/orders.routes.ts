import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { OrderService } from '../orders/order.service';
import type { RequestContext } from '../orders/order.types';
import { CreateOrderRequestSchema } from '../orders/create-order.schema';
import { UpdateOrderRequestSchema } from '../orders/update-order.schema';
import type { AuthenticateRequest } from '../security/request-authentication';
import { toRestList, toRestOrderAnswer } from './order.presenter';
import { ErrorCode } from '../errors/app-error';
import { containsExactNumber, stringifyJson, writeMarkedNumbers } from '../shared/exact-json';
import { errorCodes } from './openapi';
import { ErrorEnvelope, ListOrdersQuery, OrderEnvelope, OrderListEnvelope } from './schemas';
import { routeUrl } from '../app/route-url';
import { requireJsonBody } from '../app/json-body';
import { KEY_PATTERN } from '../orders/idempotency';
import { entityTag, ifMatchCondition, noneMatchHolds } from './entity-tag';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's workspace, set by the authentication hook of `/api`. */
    requestContext: RequestContext | null;
  }
}

export interface OrdersRoutesOptions {
  orders: OrderService;
  authenticate: AuthenticateRequest;
}

/**
 * Request schemas on these routes document the API. Checking input is the
 * service's job, so that GraphQL and REST share one rule set and one error
 * shape; Fastify's own validation is switched off for them.
 */
const serviceValidates = () => () => true;

/** The `ETag` of an answer that holds one whole order (see entity-tag.ts). */
const ETAG_HEADER = {
  ETag: {
    description:
      'The order\'s entity tag, strong: its version in quotes (`"3"`). Send it back in `If-Match` to update only ' +
      'the state you read, or in `If-None-Match` to read it only if it changed',
    schema: { type: 'string' },
  },
};

function workspaceOf(request: FastifyRequest): RequestContext {
  if (!request.requestContext) throw new Error('authentication hook did not run');
  return request.requestContext;
}

/** `/api/orders`: the Cekat-compatible REST shim. Thin: authenticate, call the service, present. */
export const ordersRoutes: FastifyPluginAsync<OrdersRoutesOptions> = async (
  app,
  { orders, authenticate },
) => {
  app.decorateRequest('requestContext', null);
  // The response schemas document the answers; the bodies are written as the presenter and the error
  // handler build them, key by key in the seed's and the contract's order. (fast-json-stringify would put
  // every required key before the optional ones: `name` after `price` in an item, `request_id` before
  // `details` in an error.)
  // Amounts are `NumberLiteral`s, written marked and then as the literal: `99.00`, as the seed writes it.
  app.setSerializerCompiler(() => (data) => writeMarkedNumbers(JSON.stringify(data)));
  app.addHook('onRequest', async (request, reply) => {
    request.requestContext = await authenticate(request, reply);
  });
  // JSON.stringify writes every number as a double; an order whose metadata holds one a double
  // cannot (12345678901234567890) is written losslessly instead (shared/exact-json.ts).
  app.addHook('preSerialization', (_request, reply, payload: { data?: { metadata?: unknown } }, done) => {
    if (containsExactNumber(payload?.data?.metadata))
      reply.serializer((data) => writeMarkedNumbers(stringifyJson(data)));
    done(null, payload);
  });

  app.post(
    '/orders',
    {
      schema: {
        summary: 'Create an order',
        operationId: 'createOrder',
        description:
          'Send an Idempotency-Key to make retries safe: the same key with the same body returns the original ' +
          'order (with Idempotent-Replayed: true) instead of creating another.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 255,
              // The service's own rule: a space or a non-ASCII character is a 422.
              pattern: KEY_PATTERN.source,
              description: '1–255 visible ASCII characters',
            }),
          ),
        }),
        body: CreateOrderRequestSchema,
        // The statuses every /api route shares (401, 422, 429, 503 …) are added by `documentApiRoute` (openapi.ts).
        response: {
          201: {
            ...OrderEnvelope,
            headers: {
              Location: { description: 'URL of the new order', required: true, schema: { type: 'string' } },
              ETag: {
                ...ETAG_HEADER.ETag,
                description: `${ETAG_HEADER.ETag.description}. Not on a replay (\`Idempotent-Replayed\`), whose body is the order as it was created`,
              },
              'Idempotent-Replayed': {
                description:
                  '`true` when an earlier request with the same Idempotency-Key created this order',
                schema: { type: 'string', enum: ['true'] },
              },
            },
          },
          409: errorCodes(ErrorEnvelope, [ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS]),
          422: errorCodes(ErrorEnvelope, [
            ErrorCode.VALIDATION_ERROR,
            ErrorCode.TOTAL_MISMATCH,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
          ]),
        },
      },
      validatorCompiler: serviceValidates,
      preValidation: requireJsonBody,
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const { order, replayed } = await orders.createOrderExactlyOnce(
        workspaceOf(request),
        request.body,
        Array.isArray(key) ? key.join(', ') : key,
      );
      // A replay's body is the order as it was created, which may since have changed: no tag for it.
      if (replayed) reply.header('idempotent-replayed', 'true');
      else reply.header('etag', entityTag(order.version));
      reply.header('location', `${routeUrl(request)}/${order.id}`);
      return reply.status(201).send({ success: true, data: toRestOrderAnswer(order) });
    },
  );

  app.get(
    '/orders',
    {
      schema: {
        summary: 'List orders: newest first, or by last change for syncing',
        operationId: 'listOrders',
        description:
          'Order summaries of your workspace, 1–100 a page (`limit`, default 50). Filter by customer, status, ' +
          'creation date, total, text or order number. Page with `pagination.next_cursor` (or `offset`); for ' +
          'syncing, `sort=updated_at` with `updated_since` returns changes oldest first and never skips one.',
        querystring: ListOrdersQuery,
        response: { 200: OrderListEnvelope },
      },
      validatorCompiler: serviceValidates,
    },
    async (request) =>
      toRestList(await orders.listOrders(workspaceOf(request), request.query as Record<string, unknown>)),
  );

  app.put(
    '/orders/:id',
    {
      schema: {
        summary: 'Update an order',
        operationId: 'updateOrder',
        description:
          'Changes only the fields you send: `status` (along the allowed moves; another is 409 ' +
          '`INVALID_STATUS_TRANSITION`), tracking, notes, `metadata` (merged key by key; a key set to null is ' +
          'removed) and `shipping_address` (replaced whole). `null` clears a field. Returns the whole order. ' +
          'Send `If-Match` with the `ETag` you read to update only that version: if the order changed since, the ' +
          'answer is 412 `PRECONDITION_FAILED` with the current `ETag`, and nothing is changed. `*` matches any ' +
          'order that exists.',
        params: Type.Object({ id: Type.String() }),
        headers: Type.Object({
          'if-match': Type.Optional(
            Type.String({
              description: 'An `ETag` of this order (`"3"`), several separated by commas, or `*`',
            }),
          ),
        }),
        body: UpdateOrderRequestSchema,
        response: {
          200: { ...OrderEnvelope, headers: ETAG_HEADER },
          404: errorCodes(ErrorEnvelope, [ErrorCode.NOT_FOUND]),
          409: errorCodes(ErrorEnvelope, [ErrorCode.INVALID_STATUS_TRANSITION]),
          412: errorCodes(ErrorEnvelope, [ErrorCode.PRECONDITION_FAILED]),
        },
      },
      validatorCompiler: serviceValidates,
      preValidation: requireJsonBody,
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      // `If-Match` is checked by the service under the update's row lock; a missing order stays 404
      // whatever the condition (RFC 9110 §13.2.1), and a 412 carries the current ETag (error-handler.ts).
      const condition = ifMatchCondition(request.headers['if-match']);
      const order = await orders.updateOrder(workspaceOf(request), id, request.body, condition);
      reply.header('etag', entityTag(order.version));
      return { success: true, data: toRestOrderAnswer(order) };
    },
  );

  app.get(
    '/orders/:id',
    {
      schema: {
        summary: 'Get an order',
        operationId: 'getOrder',
        description:
          'The whole order with its items and status history. An id of another workspace, or one that does not ' +
          'exist, is 404 `NOT_FOUND`. With `If-None-Match` naming its current `ETag`, the answer is 304 without a body.',
        params: Type.Object({ id: Type.String() }),
        headers: Type.Object({
          'if-none-match': Type.Optional(
            Type.String({
              description: 'An `ETag` of this order you hold (`"3"`), several separated by commas',
            }),
          ),
        }),
        response: {
          200: { ...OrderEnvelope, headers: ETAG_HEADER },
          304: { type: 'null', headers: ETAG_HEADER },
          404: errorCodes(ErrorEnvelope, [ErrorCode.NOT_FOUND]),
        },
      },
      validatorCompiler: serviceValidates,
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const order = await orders.getOrder(workspaceOf(request), id);
      reply.header('etag', entityTag(order.version));
      // The client holds this version already: 304, no body (RFC 9110 §13.1.2, §15.4.5).
      if (!noneMatchHolds(request.headers['if-none-match'], order.version)) return reply.status(304).send();
      return { success: true, data: toRestOrderAnswer(order) };
    },
  );
};
