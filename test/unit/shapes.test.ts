/**
 * REST and GraphQL show one order. The REST schema (snake_case) and the
 * GraphQL `Order` type (camelCase) are declared apart, so this fails when a
 * field is added to one and not the other.
 */
import { getNamedType, type GraphQLType, isObjectType } from 'graphql';
import type { TSchema } from '@sinclair/typebox';
import { expect, it } from 'vitest';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { OrderSchema } from '../../src/rest/schemas';
import { snakeToCamel } from '../../src/shared/case';

type Shape = 'value' | { [field: string]: Shape };

function restShape(schema: TSchema): Shape {
  if (schema.type === 'array') return restShape(schema.items as TSchema);
  const properties = (schema.properties ?? {}) as Record<string, TSchema>;
  if (schema.type !== 'object' || Object.keys(properties).length === 0) return 'value';
  return Object.fromEntries(
    Object.entries(properties).map(([key, value]) => [snakeToCamel(key), restShape(value)]),
  );
}

function graphqlShape(type: GraphQLType): Shape {
  const named = getNamedType(type);
  if (!isObjectType(named)) return 'value';
  return Object.fromEntries(
    Object.entries(named.getFields()).map(([name, field]) => [name, graphqlShape(field.type)]),
  );
}

it('the REST order and the GraphQL Order have the same fields, nested ones included', async () => {
  const schema = await buildGraphQLSchema();
  const order = schema.getType('Order');
  if (!order) throw new Error('no Order type');
  // One deliberate difference: GraphQL's `version` is REST's `ETag` header (the REST body is the public API's).
  const { version, ...shape } = graphqlShape(order) as Record<string, Shape>;
  expect(version).toBe('value');
  expect(shape).toStrictEqual(restShape(OrderSchema));
});
