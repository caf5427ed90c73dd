import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

/** A tenant. Every order and every API key belongs to exactly one workspace. */
@Entity({ tableName: 'workspaces' })
export class WorkspaceEntity {
  [OptionalProps]?: 'timeZone' | 'createdAt';

  @PrimaryKey({ type: 'string', length: 40 })
  id!: string;

  @Property({ type: 'string', length: 64, unique: true })
  slug!: string;

  /** IANA zone; order numbers carry the workspace's calendar date. */
  @Property({ type: 'string', length: 64 })
  timeZone: string = 'UTC';

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
