import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { AppError, ErrorCode } from '../errors/app-error';
import type { GraphQLContext } from './context';
import { CreateOrderInput, toCreateOrderRequest } from './create-order.input';
import { withUserErrors } from './errors';
import { CreateOrderPayload, Order } from './order.type';

/** Thin by design: parse arguments, call the service, shape the payload. Rules live in `OrderService`. */
@Resolver(() => Order)
export class OrderResolver {
  @Query(() => Order, { nullable: true, description: 'An order of your workspace, or null when there is none with this id.' })
  async order(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Order | null> {
    try {
      return await ctx.orders.getOrder(ctx.requestContext, id);
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.NOT_FOUND) return null;
      throw error;
    }
  }

  @Mutation(() => CreateOrderPayload, { description: 'Creates an order. Input and total errors come back in userErrors.' })
  async createOrder(
    @Arg('input', () => CreateOrderInput) input: CreateOrderInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreateOrderPayload> {
    const { result, userErrors } = await withUserErrors('input', () =>
      ctx.orders.createOrder(ctx.requestContext, toCreateOrderRequest(input)),
    );
    return { order: result, userErrors };
  }
}
