import { Migration } from '@mikro-orm/migrations';

/** Syncing lists a workspace's orders by last change, oldest first (`sort=updated_at`, `updated_since`). */
export class Migration20261201170000_sync_order extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index "orders_workspace_updated_at_id_index" on "orders" ("workspace_id", "updated_at", "id");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "orders_workspace_updated_at_id_index";`);
  }
}
