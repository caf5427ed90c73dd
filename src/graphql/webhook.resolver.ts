import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { DEFAULT_PREVIOUS_SECRET_SECONDS, MAX_PREVIOUS_SECRET_SECONDS } from '../webhooks/webhook-secret';
import type { GraphQLContext } from './context';
import { pageCost } from './cost';
import { nullWhenNotFound, withArgumentErrors, withUserErrors } from './errors';
import {
  CreateWebhookEndpointInput,
  CreateWebhookEndpointPayload,
  DeleteWebhookEndpointPayload,
  RedeliverWebhookPayload,
  RotateWebhookSecretPayload,
  UpdateWebhookEndpointInput,
  UpdateWebhookEndpointPayload,
  WebhookDeliveryConnection,
  WebhookEndpoint,
} from './webhook.type';

/** Webhook management, scoped to the caller's workspace. Thin: the rules live in `WebhookService`. */
@Resolver(() => WebhookEndpoint)
export class WebhookResolver {
  @Query(() => [WebhookEndpoint], { description: 'Your workspace’s webhook endpoints, oldest first.' })
  webhookEndpoints(@Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint[]> {
    return ctx.webhooks.listEndpoints(ctx.requestContext);
  }

  @Query(() => WebhookDeliveryConnection, {
    nullable: true,
    description: 'An endpoint’s deliveries, newest first, 1 to 100 a page (default 20); null when your workspace has no such endpoint.',
    complexity: pageCost,
  })
  async webhookDeliveries(
    @Arg('endpointId', () => ID, { description: 'The endpoint id, whep_…' }) endpointId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20)' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'The endCursor of the previous page' }) after?: string,
  ): Promise<WebhookDeliveryConnection | null> {
    const page = await nullWhenNotFound(() =>
      withArgumentErrors(
        () => ctx.webhooks.listDeliveries(ctx.requestContext, endpointId, { first: first ?? undefined, after: after ?? undefined }),
        (path) => path.map(String),
      ),
    );
    if (!page) return null;
    const edges = page.edges.map((edge) => ({ cursor: edge.cursor, node: edge.delivery }));
    return {
      edges,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.hasPreviousPage,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  @Mutation(() => CreateWebhookEndpointPayload, {
    description: 'Registers a webhook endpoint for your workspace and returns its signing secret, once.',
  })
  async createWebhookEndpoint(
    @Arg('input', () => CreateWebhookEndpointInput, { description: 'The endpoint' }) input: CreateWebhookEndpointInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreateWebhookEndpointPayload> {
    const { result, userErrors } = await withUserErrors('input', () =>
      ctx.webhooks.createEndpoint(ctx.requestContext, { url: input.url, events: input.events ?? undefined }),
    );
    if (!result) return { endpoint: null, secret: null, userErrors };
    const { secret, ...endpoint } = result;
    return { endpoint, secret, userErrors };
  }

  @Mutation(() => UpdateWebhookEndpointPayload, {
    description: 'Changes one of your endpoints: its URL, its event types, or whether it is enabled (pause it with enabled: false).',
  })
  async updateWebhookEndpoint(
    @Arg('id', () => ID, { description: 'The endpoint id, whep_…' }) id: string,
    @Arg('input', () => UpdateWebhookEndpointInput, { description: 'The fields to change' }) input: UpdateWebhookEndpointInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UpdateWebhookEndpointPayload> {
    const { result, userErrors } = await withUserErrors('input', () =>
      ctx.webhooks.updateEndpoint(ctx.requestContext, id, { url: input.url, events: input.events, enabled: input.enabled }),
      'id',
    );
    return { endpoint: result, userErrors };
  }

  @Mutation(() => RotateWebhookSecretPayload, {
    description:
      'Gives one of your endpoints a new signing secret, returned once. The previous one signs each delivery beside it for a day (or previousSecretValidForSeconds), so your receiver can switch without refusing one.',
  })
  async rotateWebhookSecret(
    @Arg('id', () => ID, { description: 'The endpoint id, whep_…' }) id: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('previousSecretValidForSeconds', () => Int, {
      nullable: true,
      description: `How long the previous secret keeps signing: 0 (at once, for a secret that leaked) to ${MAX_PREVIOUS_SECRET_SECONDS} (7 days); ${DEFAULT_PREVIOUS_SECRET_SECONDS} when left out`,
    })
    previousSecretValidForSeconds?: number | null,
  ): Promise<RotateWebhookSecretPayload> {
    const { result, userErrors } = await withUserErrors(
      null,
      () => ctx.webhooks.rotateSecret(ctx.requestContext, id, previousSecretValidForSeconds),
      'id',
    );
    if (!result) return { endpoint: null, secret: null, userErrors };
    const { secret, ...endpoint } = result;
    return { endpoint, secret, userErrors };
  }

  @Mutation(() => DeleteWebhookEndpointPayload, {
    description: 'Deletes one of your endpoints, with its deliveries; it receives nothing more.',
  })
  async deleteWebhookEndpoint(
    @Arg('id', () => ID, { description: 'The endpoint id, whep_…' }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DeleteWebhookEndpointPayload> {
    const { result, userErrors } = await withUserErrors(null, () => ctx.webhooks.deleteEndpoint(ctx.requestContext, id).then(() => id), 'id');
    return { deletedId: result, userErrors };
  }

  @Mutation(() => RedeliverWebhookPayload, {
    description: 'Delivers the event again now, with a fresh retry schedule (a failed delivery above all); one with an attempt under way is left to that attempt.',
  })
  async redeliverWebhook(
    @Arg('deliveryId', () => ID, { description: 'The delivery id, whdl_…' }) deliveryId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RedeliverWebhookPayload> {
    const { result, userErrors } = await withUserErrors(null, () => ctx.webhooks.redeliver(ctx.requestContext, deliveryId), 'deliveryId');
    return { delivery: result, userErrors };
  }
}

