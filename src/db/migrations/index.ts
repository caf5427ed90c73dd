import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127130000_initial } from './Migration20261127130000_initial';

/** Every migration, in order. Listed explicitly so that they run the same from `src/` and `dist/`. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261127130000_initial', class: Migration20261127130000_initial },
];
