import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { WorkspaceEntity } from '../auth/workspace.entity';
import { OrderEntity } from '../orders/order.entity';

/**
 * The transactional outbox (events contract §2), in two tables.
 *
 * `order_events` is the log: one row per event, written in the same
 * transaction as the order change it describes, and never changed after.
 * An `order.created` row's order has no number (the create writes it before
 * taking the number), nor its final `updated_at`; readers take them from the
 * order and the event's `time` (`PUBLISHED_DATA_SQL`).
 * `order_event_queue` holds the events still to publish: a narrow row per
 * event, written in the same statement, which the relay leases while it
 * publishes and deletes once every publisher took the event.
 *
 * Publishing state lives apart from the event so that claiming and marking
 * rewrite a row of a few dozen bytes instead of the whole event (its `data`
 * is the full order), and so that finding pending work needs no index over
 * the whole history: the queue is as small as the backlog.
 *
 * Neither table has foreign keys: their rows are written only by the
 * statement or transaction that writes (or locks) the order they belong to,
 * and orders are never deleted, so a constraint would only add a check to
 * every create while it holds its workspace's counter row.
 *
 * `position` is a global insertion counter: per order it grows with every
 * change (updates of one order are serialised by its row lock), so the
 * lowest queued position of an order is the next event to publish.
 */
@Entity({ tableName: 'order_events' })
export class OrderEventEntity {
  [OptionalProps]?: 'position';

  @PrimaryKey({ type: 'bigint', autoincrement: true })
  position!: string;

  /** `evt_` + a ULID: the CloudEvents id, the same everywhere the event goes. */
  @Property({ type: 'string', length: 40, unique: true })
  id!: string;

  @ManyToOne(() => WorkspaceEntity, { createForeignKeyConstraint: false })
  workspace!: WorkspaceEntity;

  @ManyToOne(() => OrderEntity, { createForeignKeyConstraint: false })
  order!: OrderEntity;

  /** `order.created`, `order.updated` or `order.status_changed`. */
  @Property({ type: 'string', length: 32 })
  type!: string;

  /** The order's version after the change (CloudEvents extension `sequence`). */
  @Property({ type: 'integer' })
  sequence!: number;

  /**
   * When the change was committed (CloudEvents `time`): the `updated_at` the
   * change gave the order, to the millisecond.
   */
  @Property({ type: 'datetime' })
  time!: Date;

  /**
   * The CloudEvents `data`: `{order, changes?, previous_status?}`. Stored as
   * `json`, the text as the gateway wrote it, not `jsonb`: a create writes one
   * row per order, and converting the whole order to `jsonb` on the way in was
   * work for a value that is only ever read back whole. An `order.created`
   * row's order lacks its number and `updated_at`, which readers take from
   * the order and from `time` (`PUBLISHED_DATA_SQL`).
   */
  @Property({ type: 'json', columnType: 'json' })
  data!: object;

  /**
   * The W3C `traceparent` of the request that made the change, passed on as
   * the CloudEvents Distributed Tracing extension; null when it sent none
   * (and on rows written before the column).
   */
  @Property({ type: 'string', length: 55, nullable: true })
  traceparent?: string | null;

  /** The `tracestate` that came with it (at most 512 characters, as the gateway passes it on). */
  @Property({ type: 'string', length: 512, nullable: true })
  tracestate?: string | null;
}

/** An event still to publish (see `OrderEventEntity`); the row goes when the event is published. */
@Entity({ tableName: 'order_event_queue' })
@Index({ properties: ['order', 'position'] })
export class OrderEventQueueEntity {
  [OptionalProps]?: 'claimedUntil' | 'attempts' | 'lastError';

  /** The event's `position` in `order_events`. */
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  position!: string;

  @ManyToOne(() => OrderEntity, { createForeignKeyConstraint: false })
  order!: OrderEntity;

  /** A relay that claimed the event owns it until then; after that any relay may take it over. */
  @Property({ type: 'datetime', nullable: true })
  claimedUntil?: Date | null;

  /** Failed publish attempts so far. */
  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'text', nullable: true })
  lastError?: string | null;
}
