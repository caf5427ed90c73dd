/**
 * GraphQL types of webhook management (events contract §4). Shaped like the
 * webhook service's values; the endpoint's secret appears only in the
 * payload of createWebhookEndpoint.
 */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Node } from './node.type';
import { listCost } from './cost';
import { PageInfo, UserError } from './order.type';

export const WebhookEventType = {
  ORDER_CREATED: 'order.created',
  ORDER_UPDATED: 'order.updated',
  ORDER_STATUS_CHANGED: 'order.status_changed',
} as const;
registerEnumType(WebhookEventType, {
  name: 'WebhookEventType',
  description: 'The type of an order event (the CloudEvents `type`).',
  valuesConfig: {
    ORDER_CREATED: { description: 'order.created: an order was created' },
    ORDER_UPDATED: { description: 'order.updated: an order changed; `changes` lists the fields' },
    ORDER_STATUS_CHANGED: { description: 'order.status_changed: an order moved to another status' },
  },
});

export const WebhookDeliveryStatus = { PENDING: 'pending', DELIVERED: 'delivered', FAILED: 'failed' } as const;
registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description: 'Where a webhook delivery stands.',
  valuesConfig: {
    PENDING: { description: 'Not delivered yet; the next attempt is due at nextAttemptAt (none while the endpoint is disabled)' },
    DELIVERED: { description: 'The receiver answered 2xx' },
    FAILED: { description: 'Every attempt of the retry schedule failed; redeliverWebhook tries again' },
  },
});

/** The most attempts one delivery lists (a schedule has at most 50 retries; redeliveries add more). */
export const MAX_ATTEMPTS_LISTED = 100;

@ObjectType({ simpleResolvers: true, implements: Node, description: 'A URL of yours that receives your workspace’s order events.' })
export class WebhookEndpoint implements Node {
  @Field(() => ID, { description: 'The endpoint id, whep_…' })
  id!: string;
  @Field(() => String, { description: 'Where the events are POSTed' })
  url!: string;
  @Field(() => [WebhookEventType], { description: 'The event types it receives' })
  events!: string[];
  @Field(() => Boolean, { description: 'Whether it receives events: false once paused, or once its receiver answered 410 Gone' })
  enabled!: boolean;
  @Field(() => Date, { description: 'When it was made' })
  createdAt!: Date;
  @Field(() => Date, {
    nullable: true,
    description: 'After rotateWebhookSecret: until when the previous secret still signs each delivery beside the new one; null otherwise',
  })
  previousSecretExpiresAt?: Date;
}

@ObjectType({ simpleResolvers: true, description: 'One attempt to deliver an event: its answer or error, and how long it took.' })
export class WebhookAttempt {
  @Field(() => Date, { description: 'When the attempt started' })
  attemptedAt!: Date;
  @Field(() => Int, { nullable: true, description: 'The HTTP status the receiver answered, or null when it did not answer' })
  statusCode?: number;
  @Field(() => String, { nullable: true, description: 'Why there was no answer (refused, timed out, private address …)' })
  error?: string;
  @Field(() => Int, { description: 'How long the attempt took, in milliseconds' })
  durationMs!: number;
}

@ObjectType({ simpleResolvers: true, implements: Node, description: 'One event for one endpoint, with every attempt to deliver it.' })
export class WebhookDelivery implements Node {
  @Field(() => ID, { description: 'The delivery id, whdl_…; pass it to redeliverWebhook' })
  id!: string;
  @Field(() => ID, { description: 'The event id, evt_…: the webhook-id header of every attempt' })
  eventId!: string;
  @Field(() => WebhookEventType, { description: 'The event type' })
  eventType!: string;
  @Field(() => WebhookDeliveryStatus, { description: 'Where the delivery stands' })
  status!: string;
  @Field(() => Date, { description: 'When the event was handed to the endpoint' })
  createdAt!: Date;
  @Field(() => Date, { nullable: true, description: 'When the receiver answered 2xx' })
  deliveredAt?: Date;
  @Field(() => Date, { nullable: true, description: 'When the next attempt is due, while pending; null while the endpoint is disabled (its deliveries wait until it is enabled again)' })
  nextAttemptAt?: Date;
  @Field(() => [WebhookAttempt], { description: 'Every attempt, oldest first', complexity: listCost(MAX_ATTEMPTS_LISTED) })
  attempts!: WebhookAttempt[];
}

@ObjectType({ simpleResolvers: true, description: 'A delivery in a page of deliveries, with its cursor.' })
export class WebhookDeliveryEdge {
  @Field(() => String, { description: 'Opaque; pass it as `after` to get the deliveries that follow' })
  cursor!: string;
  @Field(() => WebhookDelivery, { description: 'The delivery' })
  node!: WebhookDelivery;
}

@ObjectType({ simpleResolvers: true, description: 'A page of an endpoint’s deliveries, newest first.' })
export class WebhookDeliveryConnection {
  @Field(() => [WebhookDeliveryEdge], { description: 'The deliveries of this page' })
  edges!: WebhookDeliveryEdge[];
  @Field(() => PageInfo, { description: 'Where this page is in the list' })
  pageInfo!: PageInfo;
}

@InputType({ description: 'A new webhook endpoint.' })
export class CreateWebhookEndpointInput {
  @Field(() => String, { description: 'An http(s) URL reaching a public address' })
  url!: string;
  @Field(() => [WebhookEventType], { nullable: true, description: 'The event types to send; every type when left out' })
  events?: string[] | null;
}

@InputType({ description: 'Changes to a webhook endpoint; a field left out or null keeps its value, and the secret never changes.' })
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true, description: 'A new http(s) URL reaching a public address; deliveries not yet attempted go there' })
  url?: string | null;
  @Field(() => [WebhookEventType], { nullable: true, description: 'The event types to send from now on' })
  events?: string[] | null;
  @Field(() => Boolean, {
    nullable: true,
    description:
      'false: the endpoint receives nothing, events committed meanwhile make no delivery for it, and its pending deliveries wait; true: they go out again',
  })
  enabled?: boolean | null;
}

@ObjectType({ simpleResolvers: true, description: 'The result of updateWebhookEndpoint.' })
export class UpdateWebhookEndpointPayload {
  @Field(() => WebhookEndpoint, { nullable: true, description: 'The endpoint as it now is, or null when userErrors is not empty' })
  endpoint!: WebhookEndpoint | null;
  @Field(() => [UserError], { description: 'Input errors, or NOT_FOUND when your workspace has no such endpoint; empty on success' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'The result of createWebhookEndpoint: the endpoint and its secret, or the reasons it was refused.' })
export class CreateWebhookEndpointPayload {
  @Field(() => WebhookEndpoint, { nullable: true, description: 'The endpoint, or null when userErrors is not empty' })
  endpoint!: WebhookEndpoint | null;
  @Field(() => String, {
    nullable: true,
    description: 'The signing secret, whsec_…: verify each delivery with it (Standard Webhooks). Shown only here, only once',
  })
  secret!: string | null;
  @Field(() => [UserError], { description: 'Input errors; empty on success' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'The result of rotateWebhookSecret: the endpoint and its new secret, or the reasons it was refused.' })
export class RotateWebhookSecretPayload {
  @Field(() => WebhookEndpoint, { nullable: true, description: 'The endpoint, or null when userErrors is not empty' })
  endpoint!: WebhookEndpoint | null;
  @Field(() => String, { nullable: true, description: 'The new signing secret, whsec_…. Shown only here, only once' })
  secret!: string | null;
  @Field(() => [UserError], { description: 'Input errors, or NOT_FOUND when your workspace has no such endpoint; empty on success' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'The result of deleteWebhookEndpoint.' })
export class DeleteWebhookEndpointPayload {
  @Field(() => ID, { nullable: true, description: 'The id of the deleted endpoint, or null when userErrors is not empty' })
  deletedId!: string | null;
  @Field(() => [UserError], { description: 'NOT_FOUND when your workspace has no such endpoint; empty on success' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'The result of redeliverWebhook.' })
export class RedeliverWebhookPayload {
  @Field(() => WebhookDelivery, { nullable: true, description: 'The delivery, pending again, or null when userErrors is not empty' })
  delivery!: WebhookDelivery | null;
  @Field(() => [UserError], { description: 'NOT_FOUND when your workspace has no such delivery; empty on success' })
  userErrors!: UserError[];
}
