import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import type { Order as OrderValue } from '../orders/order.types';
import type { GraphQLContext } from './context';
import { Order } from './order.type';

function feedOf(context: GraphQLContext) {
  // Only the WebSocket transport runs subscriptions, and it always gives the feed.
  if (!context.feed) throw new Error('subscriptions run over WebSocket only');
  return context.feed;
}

/** Live changes of the caller's workspace (events contract §5), fed by the published events. */
@Resolver(() => Order)
export class OrderSubscriptionResolver {
  @Subscription(() => Order, {
    description: 'Every order created in your workspace from now on (over graphql-ws on /graphql).',
    subscribe: ({ context }: SubscribeResolverData<unknown, unknown, GraphQLContext>) =>
      feedOf(context).iterate(context.requestContext.workspaceId, (event) => event.type === 'order.created'),
  })
  orderCreated(@Root() order: OrderValue): OrderValue {
    return order;
  }

  @Subscription(() => Order, {
    description:
      'Every change of an order of your workspace from now on, or of one order with id (NOT_FOUND when your workspace has none with it): the order after the change.',
    subscribe: async ({ context, args }: SubscribeResolverData<unknown, { id?: string | null }, GraphQLContext>) => {
      const { id } = args;
      const updates = feedOf(context).iterate(
        context.requestContext.workspaceId,
        (event) => event.type === 'order.updated' && (id == null || event.orderId === id),
      );
      if (id == null) return updates;
      // Following an order that is not there (or is another workspace's) would never deliver
      // anything, so it is NOT_FOUND. Subscribed before the check, so no change in between is lost.
      try {
        await context.orders.getOrder(context.requestContext, id);
      } catch (error) {
        await updates.return?.();
        throw error;
      }
      return updates;
    },
  })
  orderUpdated(
    @Root() order: OrderValue,
    @Arg('id', () => ID, { nullable: true, description: 'Only this order (order_…); every order when left out' })
    _id?: string,
  ): OrderValue {
    return order;
  }
}
