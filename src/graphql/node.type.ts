/**
 * Relay's Global Object Identification: the `Node` interface and
 * `Query.node(id:)`. Ids are already global: each names its kind by its
 * prefix (`order_`, `whep_`, `whdl_`), so an id never names two objects of
 * different types, and it is the same id every other field and REST answer.
 * Orders implement Node; `node(id:)` of any other id answers null.
 */
import { Field, ID, InterfaceType } from 'type-graphql';
import { isOrderId } from '../orders/order-id';

/**
 * The type of a node, from its id. Synchronous: TypeGraphQL's own resolveType answers with a
 * promise, which graphql-jit (jit-executor.ts, from a document's second run) does not await, so
 * every node(id:) after the first failed ("Abstract type Node must resolve to an Object type");
 * schema.ts puts this one on the built interface.
 */
export function nodeTypeName(value: { id?: unknown }): string | undefined {
  return typeof value.id === 'string' && isOrderId(value.id) ? 'Order' : undefined;
}

@InterfaceType('Node', {
  description:
    'An object with a global id (Relay Global Object Identification): refetch it with node(id:). Orders implement it.',
  resolveType: nodeTypeName,
})
export abstract class Node {
  @Field(() => ID, { description: 'Globally unique: no object of another type has it' })
  id!: string;
}
