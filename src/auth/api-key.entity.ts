import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { WorkspaceEntity } from './workspace.entity';

/** An API key. Only a SHA-256 hash of the secret is stored; the secret is shown once. */
@Entity({ tableName: 'api_keys' })
export class ApiKeyEntity {
  [OptionalProps]?: 'createdAt' | 'name' | 'lastUsedAt' | 'revokedAt';

  @PrimaryKey({ type: 'string', length: 40 })
  id!: string;

  @ManyToOne(() => WorkspaceEntity, { deleteRule: 'cascade', index: true })
  workspace!: WorkspaceEntity;

  @Property({ type: 'string', length: 200, nullable: true })
  name?: string | null;

  /** The first characters of the key, enough to recognise it in a list. */
  @Property({ type: 'string', length: 16 })
  prefix!: string;

  @Property({ type: 'string', length: 64, unique: true })
  secretHash!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', nullable: true })
  lastUsedAt?: Date | null;

  @Property({ type: 'datetime', nullable: true })
  revokedAt?: Date | null;
}
