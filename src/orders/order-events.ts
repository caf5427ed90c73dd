/**
 * What the order service needs from the events module: the outbox rows of a
 * change. The service writes them in the change's own transaction (events
 * contract §2); building them (the CloudEvents data, in the REST
 * representation) is the events module's business, wired in by the app.
 */
import { AppError, ErrorCode } from '../errors/app-error';
import { stringifyJson } from '../shared/exact-json';
import type { EventTrace, Order, OrderStatus } from './order.types';

/** The PostgreSQL NOTIFY channel a commit with events signals on. */
export const EVENTS_CHANNEL = 'order_events';

/**
 * The most bytes an event's `data` may take as JSON. Every event must fit one
 * NATS message (`max_payload` is 1 MiB by default, and the CloudEvents
 * envelope and the headers take a little of it): a larger one could never be
 * published and would stay in the outbox for good, and the order's later
 * events behind it. The REST order in an event is a little larger than the
 * request that made it (each item gains its subtotal), so a body near the
 * 1 MiB body limit can make one; such a change is refused instead.
 */
export const MAX_EVENT_DATA_BYTES = 1024 * 1024 - 8 * 1024;

/** Refuses a change whose event's `data`, as this JSON text, is over MAX_EVENT_DATA_BYTES: 413 PAYLOAD_TOO_LARGE. */
export function checkEventSize(dataJson: string): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: nearly every event is far below without counting.
  if (dataJson.length * 3 <= MAX_EVENT_DATA_BYTES) return;
  const bytes = Buffer.byteLength(dataJson);
  if (bytes <= MAX_EVENT_DATA_BYTES) return;
  throw new AppError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `The order is too large to send as an event: ${bytes} bytes, at most ${MAX_EVENT_DATA_BYTES} (every event must fit one broker message); send fewer items or shorter texts`,
  );
}

/**
 * The text of an `order.created` event's `data` as the create stores it:
 * `{"order":{"id":…,"order_number":null,…,"updated_at":null}}`. The create
 * does not know these two yet; `PUBLISHED_DATA_SQL` (events/outbox.store.ts)
 * writes them in where they stand: the number is the order's second key, and
 * `updated_at` its last, so the text starts and ends in a known way whatever
 * the order holds.
 */
export function storedCreatedData(data: { order: object }): string {
  // stringifyJson: an event's order keeps metadata's exact numbers (shared/exact-json.ts).
  return stringifyJson({ ...data, order: { ...data.order, order_number: null, updated_at: null } });
}

export const ORDER_EVENT_TYPES = ['order.created', 'order.updated', 'order.status_changed'] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/** An outbox row about to be written with its change. */
export interface NewOrderEvent {
  /** `evt_` + a ULID. */
  id: string;
  type: OrderEventType;
  /** The order's version after the change: 1 for the create, +1 per change. */
  sequence: number;
  /** When the change was committed: the order's new `updated_at` (a create's is the statement's, set by `numbered`). */
  time: Date;
  /** The CloudEvents `data`. */
  data: object;
  /** The W3C trace context of the request that made the change (CloudEvents Distributed Tracing extension). */
  traceparent?: string;
  tracestate?: string;
}

/** `events` carrying the request's trace context, when it sent one. */
export function withTrace(events: NewOrderEvent[], trace: EventTrace | undefined): NewOrderEvent[] {
  return trace ? events.map((event) => ({ ...event, ...trace })) : events;
}

/** The field names a change touched, in the REST representation (`tracking_number`, …). */
export type ChangedFields = string[];

export interface OrderEventBuilder {
  created(order: Order): NewOrderEvent;
  /**
   * `event`, made by `created` before the order had its number, with its
   * number and `updated_at` as committed, and that `updated_at` as its `time`.
   */
  numbered(event: NewOrderEvent, order: Order): NewOrderEvent;
  /** `order.updated`, and `order.status_changed` after it when the status moved. */
  updated(
    order: Order,
    sequence: number,
    changes: ChangedFields,
    previousStatus?: OrderStatus,
  ): NewOrderEvent[];
}

/** An event as committed, with its place in the outbox: what a relay publishes. */
export interface CommittedOrderEvent extends NewOrderEvent {
  /** Its `position` in `order_events` (a bigint, as text). */
  position: string;
  workspaceId: string;
  orderId: string;
}

/**
 * This process's relay, as the order service sees it. After a commit with
 * events the service wakes it, so it claims them at once. A create's event
 * is handed over instead: the create leases its queue row to this process
 * for `leaseMs`, so no other relay takes it, and this one publishes it from
 * memory without claiming or reading it back (see `EventRelay.publishCommitted`).
 */
export interface InProcessRelay {
  readonly leaseMs: number;
  wake(): void;
  publishCommitted(event: CommittedOrderEvent): void;
}
