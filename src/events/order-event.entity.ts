import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { WorkspaceEntity } from '../auth/workspace.entity';
import { OrderEntity } from '../orders/order.entity';

/** Partial indexes over the pending events only, so their size follows the backlog, not the history. */
function pendingIndex(columns: string[]) {
  return (_table: unknown, _columns: unknown, name: string) =>
    `create index "${name}" on "order_events" (${columns.map((c) => `"${c}"`).join(', ')}) where "published_at" is null`;
}

/**
 * The transactional outbox (events contract §2): one row per event, written
 * in the same transaction as the order change it describes. The relay
 * publishes pending rows (`published_at` null) and marks them.
 *
 * `position` is a global insertion counter: per order it grows with every
 * change (updates of one order are serialised by its row lock), so the
 * lowest pending position of an order is the next event to publish.
 */
@Entity({ tableName: 'order_events' })
@Index({ name: 'order_events_pending_index', expression: pendingIndex(['position']) })
@Index({ name: 'order_events_pending_order_index', expression: pendingIndex(['order_id', 'position']) })
export class OrderEventEntity {
  [OptionalProps]?: 'position' | 'publishedAt' | 'claimedUntil' | 'attempts' | 'lastError';

  @PrimaryKey({ type: 'bigint', autoincrement: true })
  position!: string;

  /** `evt_` + a ULID: the CloudEvents id, the same everywhere the event goes. */
  @Property({ type: 'string', length: 40, unique: true })
  id!: string;

  @ManyToOne(() => WorkspaceEntity, { deleteRule: 'cascade' })
  workspace!: WorkspaceEntity;

  @ManyToOne(() => OrderEntity, { deleteRule: 'cascade' })
  order!: OrderEntity;

  /** `order.created`, `order.updated` or `order.status_changed`. */
  @Property({ type: 'string', length: 32 })
  type!: string;

  /** The order's version after the change (CloudEvents extension `sequence`). */
  @Property({ type: 'integer' })
  sequence!: number;

  /** When the change was made (CloudEvents `time`). */
  @Property({ type: 'datetime' })
  time!: Date;

  /** The CloudEvents `data`: `{order, changes?, previous_status?}`. */
  @Property({ type: 'json' })
  data!: object;

  @Property({ type: 'datetime', nullable: true })
  publishedAt?: Date | null;

  /** A relay that claimed the event owns it until then; after that any relay may take it over. */
  @Property({ type: 'datetime', nullable: true })
  claimedUntil?: Date | null;

  /** Failed publish attempts so far. */
  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'text', nullable: true })
  lastError?: string | null;
}
