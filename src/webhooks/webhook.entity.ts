import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { WorkspaceEntity } from '../auth/workspace.entity';

/** A receiver of a workspace's events (events contract §4). */
@Entity({ tableName: 'webhook_endpoints' })
export class WebhookEndpointEntity {
  [OptionalProps]?: 'enabled' | 'createdAt' | 'previousSecret' | 'previousSecretExpiresAt';

  /** `whep_` + a ULID. */
  @PrimaryKey({ type: 'string', length: 40 })
  id!: string;

  @ManyToOne(() => WorkspaceEntity, { deleteRule: 'cascade', index: true })
  workspace!: WorkspaceEntity;

  @Property({ type: 'text' })
  url!: string;

  /** The event types it receives; null for all. */
  @Property({ type: 'json', nullable: true })
  events?: string[] | null;

  /** `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
  @Property({ type: 'string', length: 128 })
  secret!: string;

  /**
   * The secret before the last rotation, which signs each delivery beside the
   * new one (Standard Webhooks' several signatures) until
   * `previousSecretExpiresAt`, so that receivers can switch without a gap.
   */
  @Property({ type: 'string', length: 128, nullable: true })
  previousSecret?: string | null;

  @Property({ type: 'datetime', nullable: true })
  previousSecretExpiresAt?: Date | null;

  @Property({ type: 'boolean', default: true })
  enabled: boolean = true;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}

/** Partial index over the deliveries still to be attempted, by when they fall due. */
function dueIndex(_table: unknown, _columns: unknown, name: string) {
  return `create index "${name}" on "webhook_deliveries" ("next_attempt_at") where "status" = 'pending'`;
}

/**
 * One event for one endpoint. Made by the relay when it publishes the event,
 * so deliveries run from the outbox and survive restarts; attempted until a
 * 2xx, on the retry schedule, then `failed` (and redeliverable by hand).
 */
@Entity({ tableName: 'webhook_deliveries' })
@Unique({ properties: ['endpoint', 'eventId'] })
@Index({ name: 'webhook_deliveries_due_index', expression: dueIndex })
@Index({ properties: ['endpoint', 'createdAt', 'id'] })
export class WebhookDeliveryEntity {
  [OptionalProps]?: 'status' | 'attempts' | 'claimedUntil' | 'deliveredAt';

  /** `whdl_` + 32 hex digits. */
  @PrimaryKey({ type: 'string', length: 40 })
  id!: string;

  @ManyToOne(() => WebhookEndpointEntity, { deleteRule: 'cascade' })
  endpoint!: WebhookEndpointEntity;

  /** The event's id (`order_events.id`), which is also its `webhook-id`. */
  @Property({ type: 'string', length: 40, index: true })
  eventId!: string;

  /** `pending`, `delivered` or `failed`. */
  @Property({ type: 'string', length: 16, default: 'pending' })
  status: string = 'pending';

  /** Attempts in the current round (a redelivery starts a new round). */
  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'datetime' })
  nextAttemptAt!: Date;

  @Property({ type: 'datetime', nullable: true })
  claimedUntil?: Date | null;

  @Property({ type: 'datetime', nullable: true })
  deliveredAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt!: Date;
}

/** Every attempt of a delivery: when, the answer's status code or the error, and how long it took. */
@Entity({ tableName: 'webhook_attempts' })
export class WebhookAttemptEntity {
  [OptionalProps]?: 'id';

  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => WebhookDeliveryEntity, { deleteRule: 'cascade', index: true })
  delivery!: WebhookDeliveryEntity;

  @Property({ type: 'datetime' })
  attemptedAt!: Date;

  @Property({ type: 'integer', nullable: true })
  statusCode?: number | null;

  @Property({ type: 'text', nullable: true })
  error?: string | null;

  @Property({ type: 'integer' })
  durationMs!: number;
}
