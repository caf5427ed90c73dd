import {
  Entity,
  EntityRepositoryType,
  ManyToOne,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
} from '@mikro-orm/core';
import { WorkspaceEntity } from '../auth/workspace.entity';
import { ExactJsonType } from '../db/exact-json.type';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { OrderEntity } from './order.entity';

/**
 * A completed create, remembered under its Idempotency-Key so that a retry
 * gets the original answer. Written in the same transaction as the order.
 */
@Entity({ tableName: 'idempotency_keys', repository: () => IdempotencyKeyRepository })
export class IdempotencyKeyEntity {
  [PrimaryKeyProp]?: ['workspace', 'key'];
  [EntityRepositoryType]?: IdempotencyKeyRepository;

  @ManyToOne(() => WorkspaceEntity, { primary: true, deleteRule: 'cascade' })
  workspace!: WorkspaceEntity;

  @PrimaryKey({ type: 'string', length: 255 })
  key!: string;

  /** SHA-256 of the canonical request; a different request under the same key is refused. */
  @Property({ type: 'string', length: 64 })
  fingerprint!: string;

  @ManyToOne(() => OrderEntity, { deleteRule: 'cascade', index: true })
  order!: OrderEntity;

  /** The order as it was returned, replayed verbatim (metadata's numbers exactly, see `ExactJsonType`). */
  @Property({ type: ExactJsonType })
  response!: object;

  @Property({ type: 'datetime' })
  createdAt!: Date;

  @Property({ type: 'datetime', index: true })
  expiresAt!: Date;
}
