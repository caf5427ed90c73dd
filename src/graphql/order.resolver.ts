import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, ID, Info, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from './context';
import { CreateOrderInput, toCreateOrderRequest } from './create-order.input';
import { pageCost } from './cost';
import { nullWhenNotFound, toGraphQLPath, withArgumentErrors, withUserErrors } from './errors';
import { Node, nodeTypeOfId } from './node.type';
import { OrderFilter, OrdersOrderBy, toFilterRequest } from './order-list.input';
import { selectsField } from './selection';
import { CreateOrderPayload, Order, OrderConnection, UpdateOrderPayload } from './order.type';
import { toUpdateOrderRequest, UpdateOrderInput } from './update-order.input';
import type { WebhookDelivery, WebhookEndpoint } from './webhook.type';

/** Thin by design: parse arguments, call the service, shape the payload. Rules live in `OrderService`. */
@Resolver(() => Order)
export class OrderResolver {
  @Query(() => Order, {
    nullable: true,
    description: 'An order of your workspace, or null when there is none with this id.',
  })
  order(
    @Arg('id', () => ID, { description: 'The order id, order_…' }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Order | null> {
    return nullWhenNotFound(() => ctx.orders.getOrder(ctx.requestContext, id));
  }

  @Query(() => Node, {
    nullable: true,
    description:
      'The object with this global id, or null when your workspace has none (Relay Global Object Identification). Orders, webhook endpoints and deliveries are nodes: node(id: "order_…") is order(id:).',
  })
  node(
    @Arg('id', () => ID, { description: 'A global id: order_…, whep_… or whdl_…' }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Order | WebhookEndpoint | WebhookDelivery | null> {
    switch (nodeTypeOfId(id)) {
      case 'WebhookEndpoint':
        return nullWhenNotFound(() => ctx.webhooks.getEndpoint(ctx.requestContext, id));
      case 'WebhookDelivery':
        return nullWhenNotFound(() => ctx.webhooks.getDelivery(ctx.requestContext, id));
      default:
        return nullWhenNotFound(() => ctx.orders.getOrder(ctx.requestContext, id));
    }
  }

  @Query(() => Order, {
    nullable: true,
    description: 'An order of your workspace by its number, e.g. ORD-2025-0327-001.',
  })
  orderByNumber(
    @Arg('orderNumber', () => String, { description: 'The order number, ORD-YYYY-MMDD-NNN' })
    orderNumber: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Order | null> {
    return nullWhenNotFound(() => ctx.orders.getOrderByNumber(ctx.requestContext, orderNumber));
  }

  @Query(() => OrderConnection, {
    description:
      'Your workspace’s orders, newest first or by last change (orderBy), 1 to 100 a page (default 50).',
    complexity: pageCost,
  })
  async orders(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => OrderFilter, {
      nullable: true,
      description: 'Narrows the list; every field is optional',
    })
    filter?: OrderFilter,
    @Arg('first', () => Int, {
      nullable: true,
      // The cost limit (README, "GraphQL limits") counts an order's items 500 times: a client generated
      // from the schema must learn here that the default page with items is refused.
      description:
        'Page size, 1 to 100 (default 50). Under the default query cost limit (QUERY_LIMIT_EXCEEDED), a page that ' +
        'asks for every field of the orders and of their items holds at most 16 orders; ask for items on fewer orders, or with order(id)',
    })
    first?: number,
    @Arg('after', () => String, {
      nullable: true,
      description: 'The endCursor of the previous page; null or empty for the first page',
    })
    after?: string,
    @Arg('orderBy', () => OrdersOrderBy, {
      nullable: true,
      defaultValue: OrdersOrderBy.CREATED_AT_DESC,
      description: 'The order of the list; an after cursor must come from a page in the same order',
    })
    orderBy?: OrdersOrderBy,
    @Arg('last', () => Int, {
      nullable: true,
      description:
        'Backward paging (Relay): the last 1 to 100 orders of the list, or of those before `before`. With first (discouraged), the last of the first orders',
    })
    last?: number,
    @Arg('before', () => String, {
      nullable: true,
      description: 'The startCursor of the page after; with last, the orders just before it',
    })
    before?: string,
    @Info() info?: GraphQLResolveInfo,
  ): Promise<OrderConnection> {
    const page = await withArgumentErrors(
      () =>
        ctx.orders.findOrders(
          ctx.requestContext,
          toFilterRequest(filter),
          {
            first: first ?? undefined,
            after: after ?? undefined,
            last: last ?? undefined,
            before: before ?? undefined,
            sort: orderBy ?? undefined,
          },
          // The count reads every matching order (a second for 2,000,000): only when totalCount is asked for.
          { withTotal: info === undefined || selectsField(info, 'totalCount') },
        ),
      // The page arguments are the query's own; everything else is a field of `filter`.
      (path) =>
        typeof path[0] === 'string' && ['first', 'after', 'last', 'before'].includes(path[0])
          ? [path[0]]
          : toGraphQLPath('filter', path),
    );
    const edges = page.edges.map((edge) => ({ cursor: edge.cursor, node: edge.order }));
    return {
      edges,
      // Left out when not selected (see above); the schema's field is read only when it is.
      totalCount: page.totalCount as number,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.hasPreviousPage,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  @Mutation(() => CreateOrderPayload, {
    description: 'Creates an order. Input and total errors come back in userErrors.',
  })
  async createOrder(
    @Arg('input', () => CreateOrderInput, { description: 'The order to create' }) input: CreateOrderInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('idempotencyKey', () => String, {
      nullable: true,
      description:
        'Makes retries safe: the same key with the same input returns the original order instead of creating another.',
    })
    idempotencyKey?: string,
  ): Promise<CreateOrderPayload> {
    const { result, userErrors } = await withUserErrors('input', () =>
      ctx.orders.createOrderExactlyOnce(
        ctx.requestContext,
        toCreateOrderRequest(input),
        idempotencyKey ?? undefined,
      ),
    );
    return { order: result?.order ?? null, replayed: result?.replayed ?? false, userErrors };
  }

  @Mutation(() => UpdateOrderPayload, {
    description: 'Updates status, tracking, notes, metadata (merged) or the shipping address (replaced).',
  })
  async updateOrder(
    @Arg('id', () => ID, { description: 'The order id, order_…' }) id: string,
    @Arg('input', () => UpdateOrderInput, { description: 'The changes; fields left out are kept' })
    input: UpdateOrderInput,
    @Ctx() ctx: GraphQLContext,
    @Arg('expectedVersion', () => Int, {
      nullable: true,
      description:
        'Change the order only if it is still at this version (Order.version, as read): otherwise nothing is ' +
        'changed and userErrors has PRECONDITION_FAILED. Guards against overwriting a change you have not seen',
    })
    expectedVersion?: number | null,
  ): Promise<UpdateOrderPayload> {
    const condition =
      expectedVersion === undefined || expectedVersion === null ? undefined : { ifMatch: [expectedVersion] };
    const { result, userErrors } = await withUserErrors(
      'input',
      () => ctx.orders.updateOrder(ctx.requestContext, id, toUpdateOrderRequest(input), condition),
      'id',
    );
    return { order: result, userErrors };
  }
}
