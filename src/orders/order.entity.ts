import {
  Check,
  Collection,
  Entity,
  EntityRepositoryType,
  Index,
  ManyToOne,
  OneToMany,
  OptionalProps,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
  Unique,
} from '@mikro-orm/core';
import { WorkspaceEntity } from '../auth/workspace.entity';
import { ExactJsonType } from '../db/exact-json.type';
import { OrderRepository } from './order.repository';
import { ORDER_STATUSES, type Address, type JsonObject, type OrderStatus } from './order.types';

/** One entry of `status_history`, as stored (timestamps as ISO strings inside jsonb). */
export interface StoredStatusChange {
  status: OrderStatus;
  timestamp: string;
}

// Amounts are numeric(19,4): 15 integer digits (JPY at the 15-significant-digit
// cap) and 4 fraction digits (CLF and UYW; KWD, BHD … have 3). They come back as
// strings, never floats.
// A function, not a shared object: MikroORM writes the column name into the options it is given.
const money = () => ({ type: 'decimal', precision: 19, scale: 4 }) as const;

// The contract's rules that another writer (a script, a second service, an older release) could break
// behind the service's back are also the database's: amounts are never negative, a line has at least
// one unit, a status is one of the contract's. Written the way PostgreSQL prints them back (`a = 'x' or
// …`, not `in (…)`), so that the schema diff reads them as unchanged.
const notNegative = (table: string, column: string) => ({
  name: `${table}_${column}_check`,
  expression: `${column} >= 0`,
});
const STATUS_CHECK = ORDER_STATUSES.map((status) => `status = '${status}'`).join(' or ');

/** An index on (workspace, …columns, created_at desc, id desc): descending columns need an expression. */
function listIndex(columns: string[]) {
  return (table: { toString(): string }, _columns: unknown, name: string) =>
    `create index "${name}" on "${table.toString()}" (${['workspace_id', ...columns].map((c) => `"${c}"`).join(', ')}, "created_at" desc, "id" desc)`;
}

function trigramIndex(column: string) {
  return (table: { toString(): string }, _columns: unknown, name: string) =>
    `create index "${name}" on "${table.toString()}" using gin ("${column}" gin_trgm_ops)`;
}

// The list reads one workspace's orders newest first, ties by id: every list index leads with the
// workspace and ends in that order. The unique (workspace, number) key also serves lookups by number.
@Entity({ tableName: 'orders', repository: () => OrderRepository })
@Unique({ properties: ['workspace', 'orderNumber'] })
@Check({ name: 'orders_status_check', expression: STATUS_CHECK })
@Check(notNegative('orders', 'subtotal'))
@Check(notNegative('orders', 'shipping'))
@Check(notNegative('orders', 'tax'))
@Check(notNegative('orders', 'total'))
// Amounts never change after the create, so the sum the create checked holds for good.
@Check({ name: 'orders_total_adds_up_check', expression: 'total = subtotal + shipping + tax' })
@Index({ name: 'orders_workspace_id_created_at_id_index', expression: listIndex([]) })
@Index({ name: 'orders_workspace_customer_created_index', expression: listIndex(['customer_id']) })
@Index({ name: 'orders_workspace_status_created_index', expression: listIndex(['status']) })
@Index({ name: 'orders_workspace_total_index', properties: ['workspace', 'total'] })
// Syncing reads one workspace's changes oldest first (`sort=updated_at`, `updated_since`).
@Index({ name: 'orders_workspace_updated_at_id_index', properties: ['workspace', 'updatedAt', 'id'] })
// `search` matches part of the number or the notes, case-insensitively (pg_trgm, created by a migration).
@Index({ name: 'orders_order_number_trgm_index', expression: trigramIndex('order_number') })
@Index({ name: 'orders_notes_trgm_index', expression: trigramIndex('notes') })
export class OrderEntity {
  [OptionalProps]?: 'items';
  [EntityRepositoryType]?: OrderRepository;

  @PrimaryKey({ type: 'string', length: 40 })
  id!: string;

  @ManyToOne(() => WorkspaceEntity, { deleteRule: 'cascade' })
  workspace!: WorkspaceEntity;

  @Property({ type: 'string', length: 32 })
  orderNumber!: string;

  @Property({ type: 'string', length: 128 })
  customerId!: string;

  @Property({ type: 'string', length: 16 })
  status!: OrderStatus;

  @Property({ type: 'string', length: 3 })
  currency!: string;

  @Property(money())
  subtotal!: string;

  @Property(money())
  shipping!: string;

  @Property(money())
  tax!: string;

  @Property(money())
  total!: string;

  @Property({ type: 'json', nullable: true })
  shippingAddress?: Address | null;

  @Property({ type: 'json', nullable: true })
  billingAddress?: Address | null;

  @Property({ type: 'text', nullable: true })
  notes?: string | null;

  /** The caller's JSON; its numbers stay exact (`12345678901234567890`), see `ExactJsonType`. */
  @Property({ type: ExactJsonType, nullable: true })
  metadata?: JsonObject | null;

  @Property({ type: 'string', length: 255, nullable: true })
  trackingNumber?: string | null;

  @Property({ type: 'text', nullable: true })
  trackingUrl?: string | null;

  @Property({ type: 'json' })
  statusHistory!: StoredStatusChange[];

  @Property({ type: 'datetime' })
  createdAt!: Date;

  @Property({ type: 'datetime' })
  updatedAt!: Date;

  /** 1 when created, +1 per change that changed something: the `sequence` of the order's events. */
  @Property({ type: 'integer', default: 1 })
  version!: number;

  @OneToMany(() => OrderItemEntity, (item) => item.order, { orderBy: { position: 'asc' } })
  items = new Collection<OrderItemEntity>(this);
}

/** An order line. Its key (order_id, position) keeps the lines in the order they were sent. */
@Entity({ tableName: 'order_items' })
@Check({ name: 'order_items_quantity_check', expression: 'quantity > 0' })
@Check(notNegative('order_items', 'price'))
@Check(notNegative('order_items', 'subtotal'))
@Check({ name: 'order_items_subtotal_adds_up_check', expression: 'subtotal = price * quantity' })
export class OrderItemEntity {
  [PrimaryKeyProp]?: ['order', 'position'];

  @ManyToOne(() => OrderEntity, { primary: true, deleteRule: 'cascade' })
  order!: OrderEntity;

  @PrimaryKey({ type: 'integer' })
  position!: number;

  @Property({ type: 'string', length: 128 })
  productId!: string;

  @Property({ type: 'text', nullable: true })
  name?: string | null;

  @Property({ type: 'integer' })
  quantity!: number;

  @Property(money())
  price!: string;

  @Property({ type: 'string', length: 128, nullable: true })
  sku?: string | null;

  @Property(money())
  subtotal!: string;
}

/** The per-workspace daily counter behind order numbers. */
@Entity({ tableName: 'order_number_counters' })
export class OrderNumberCounterEntity {
  [PrimaryKeyProp]?: ['workspace', 'day'];

  @ManyToOne(() => WorkspaceEntity, { primary: true, deleteRule: 'cascade' })
  workspace!: WorkspaceEntity;

  /** The workspace-local calendar date, `YYYY-MM-DD`. */
  @PrimaryKey({ type: 'string', columnType: 'date' })
  day!: string;

  @Property({ type: 'integer' })
  lastValue!: number;
}
