/**
 * Relay's Global Object Identification: the `Node` interface and
 * `Query.node(id:)`. Ids are already global: each names its kind by its
 * prefix (`order_`, `whep_`, `whdl_`), so an id never names two objects of
 * different types, and it is the same id every other field and REST answer.
 * Orders, webhook endpoints and webhook deliveries implement Node (every object with an id of
 * its own; a delivery is a connection's node); `node(id:)` of any other id answers null.
 */
import { Field, ID, InterfaceType } from 'type-graphql';
import { isOrderId } from '../orders/order-id';
import { isDeliveryId, isEndpointId } from '../webhooks/webhook.service';

/**
 * The type of a node, from its id. Synchronous: TypeGraphQL's own resolveType answers with a
 * promise, which graphql-jit (jit-executor.ts, from a document's second run) does not await, so
 * every node(id:) after the first failed ("Abstract type Node must resolve to an Object type");
 * schema.ts puts this one on the built interface.
 */
export function nodeTypeName(value: { id?: unknown }): NodeTypeName | undefined {
  return typeof value.id === 'string' ? nodeTypeOfId(value.id) : undefined;
}

export type NodeTypeName = 'Order' | 'WebhookEndpoint' | 'WebhookDelivery';

/** The type an id names, by its shape (order_…, whep_…, whdl_…), or undefined when it names none. */
export function nodeTypeOfId(id: string): NodeTypeName | undefined {
  if (isOrderId(id)) return 'Order';
  if (isEndpointId(id)) return 'WebhookEndpoint';
  if (isDeliveryId(id)) return 'WebhookDelivery';
  return undefined;
}

@InterfaceType('Node', {
  description:
    'An object with a global id (Relay Global Object Identification): refetch it with node(id:). Orders, webhook endpoints and webhook deliveries implement it.',
  resolveType: nodeTypeName,
})
export abstract class Node {
  @Field(() => ID, { description: 'Globally unique: no object of another type has it' })
  id!: string;
}
