import 'reflect-metadata';
import { type GraphQLSchema, isInterfaceType, lexicographicSortSchema, printSchema } from 'graphql';
import { nodeTypeName } from './node.type';
import { buildSchema, type PubSub } from 'type-graphql';
import { OrderResolver } from './order.resolver';
import { OrderSubscriptionResolver } from './order-subscription.resolver';
import { WebhookResolver } from './webhook.resolver';
import { DateTimeScalar } from './scalars';

const NO_TOPICS: PubSub = {
  publish() {
    throw new Error('subscriptions are fed by the order feed, not by topics');
  },
  subscribe() {
    throw new Error('subscriptions are fed by the order feed, not by topics');
  },
};

/** Builds the executable schema from the resolvers. No I/O: resolvers reach services through the context. */
export async function buildGraphQLSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [OrderResolver, WebhookResolver, OrderSubscriptionResolver],
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    // Input rules are the service's job (it serves REST too), so class-validator is not used.
    validate: false,
    emitSchemaFile: false,
    // Every subscription brings its own `subscribe` (the order feed); TypeGraphQL insists on a PubSub all the same.
    pubSub: NO_TOPICS,
  });
  // TypeGraphQL wraps resolveType in a promise, which graphql-jit does not await (node.type.ts).
  const node = schema.getType('Node');
  if (isInterfaceType(node)) node.resolveType = (value) => nodeTypeName(value as { id?: unknown });
  // TypeGraphQL has no option for the root types' descriptions.
  const query = schema.getQueryType();
  const mutation = schema.getMutationType();
  const subscription = schema.getSubscriptionType();
  if (subscription)
    subscription.description =
      'Live changes of the orders of the workspace your API key belongs to, over graphql-ws on /graphql.';
  if (query) query.description = 'Reading the orders and webhook endpoints of the workspace your API key belongs to.';
  if (mutation)
    mutation.description = 'Creating and updating orders, and managing webhook endpoints, of the workspace your API key belongs to.';
  return schema;
}

/** The SDL committed as `schema.graphql`; a test fails when the two drift apart. */
export function printSchemaSDL(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
