import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { buildSchema } from 'type-graphql';
import { OrderResolver } from './order.resolver';

/** Builds the executable schema from the resolvers. No I/O: resolvers reach services through the context. */
export async function buildGraphQLSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [OrderResolver],
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // Input rules are the service's job (it serves REST too), so class-validator is not used.
    validate: false,
    emitSchemaFile: false,
  });
}

/** The SDL committed as `schema.graphql`; a test fails when the two drift apart. */
export function printSchemaSDL(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
