/**
 * Relay's Global Object Identification: the `Node` interface and
 * `Query.node(id:)`. Ids are already global: each names its kind by its
 * prefix (`order_`, `whep_`, `whdl_`), so an id never names two objects of
 * different types, and it is the same id every other field and REST answer.
 * Orders implement Node; `node(id:)` of any other id answers null.
 */
import { Field, ID, InterfaceType } from 'type-graphql';
import { isOrderId } from '../orders/order-id';

@InterfaceType('Node', {
  description:
    'An object with a global id (Relay Global Object Identification): refetch it with node(id:). Orders implement it.',
  resolveType: (value: { id?: unknown }) =>
    typeof value.id === 'string' && isOrderId(value.id) ? 'Order' : undefined,
})
export abstract class Node {
  @Field(() => ID, { description: 'Globally unique: no object of another type has it' })
  id!: string;
}
