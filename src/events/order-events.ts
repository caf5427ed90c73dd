/**
 * The events of order changes (events contract §1): the outbox rows the
 * order service writes with each change, and the CloudEvents 1.0 envelope
 * they leave the gateway in.
 */
import type { NewOrderEvent, OrderEventBuilder, OrderEventType } from '../orders/order-events';
import { newUlid } from '../orders/order-id';
import type { Order, OrderStatus } from '../orders/order.types';
import { timestamp, toRestOrder } from '../rest/order.presenter';

export function newEventId(at: Date): string {
  return `evt_${newUlid(at)}`;
}

/** The order inside an event is exactly what `GET /api/orders/:id` answers at that moment. */
export const orderEvents: OrderEventBuilder = {
  created(order: Order): NewOrderEvent {
    return {
      id: newEventId(order.createdAt),
      type: 'order.created',
      sequence: 1,
      time: order.createdAt,
      data: { order: toRestOrder(order) },
    };
  },
  numbered(event: NewOrderEvent, order: Order): NewOrderEvent {
    // Only these differ from what `created` wrote; the REST order is not built again.
    const data = event.data as { order: Record<string, unknown> };
    const rest = { ...data.order, order_number: order.orderNumber, updated_at: timestamp(order.updatedAt) };
    return { ...event, time: order.updatedAt, data: { ...data, order: rest } };
  },
  updated(order: Order, sequence: number, changes: string[], previousStatus?: OrderStatus): NewOrderEvent[] {
    const rest = toRestOrder(order);
    // Both events of a status move share a millisecond, where ULIDs order at random: the lower id
    // goes to the order.updated, so that sorting by id keeps the order they are published in.
    const [updatedId, statusChangedId] = [newEventId(order.updatedAt), newEventId(order.updatedAt)].sort();
    const updated: NewOrderEvent = {
      id: updatedId,
      type: 'order.updated',
      sequence,
      time: order.updatedAt,
      data: { order: rest, changes },
    };
    if (previousStatus === undefined) return [updated];
    return [
      updated,
      {
        id: statusChangedId,
        type: 'order.status_changed',
        sequence,
        time: order.updatedAt,
        data: { order: rest, changes, previous_status: previousStatus },
      },
    ];
  },
};

/** An outbox row as the relay reads it. */
export interface StoredEvent {
  position: string;
  id: string;
  workspaceId: string;
  orderId: string;
  type: OrderEventType;
  sequence: number;
  time: Date;
  data: object;
  /** The change's request's trace context; null (or absent) when it sent none, and on rows older than the columns. */
  traceparent?: string | null;
  tracestate?: string | null;
}

/** A CloudEvents 1.0 event in structured JSON mode (`application/cloudevents+json`). */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: OrderEventType;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  workspaceid: string;
  sequence: number;
  /** The Distributed Tracing extension: the W3C trace context of the request that made the change, when it sent one. */
  traceparent?: string;
  tracestate?: string;
  data: object;
}

export function toCloudEvent(event: StoredEvent): CloudEvent {
  const cloudEvent: CloudEvent = {
    specversion: '1.0',
    id: event.id,
    source: `/workspaces/${event.workspaceId}`,
    type: event.type,
    subject: event.orderId,
    time: new Date(event.time).toISOString(),
    datacontenttype: 'application/json',
    workspaceid: event.workspaceId,
    sequence: event.sequence,
    data: event.data,
  };
  if (!event.traceparent) return cloudEvent;
  // Before `data`, with the other attributes: the order of keys a JSON reader sees.
  const { data, ...attributes } = cloudEvent;
  return { ...attributes, traceparent: event.traceparent, ...(event.tracestate ? { tracestate: event.tracestate } : {}), data };
}
