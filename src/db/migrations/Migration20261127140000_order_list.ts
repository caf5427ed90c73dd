import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes for every filter of the order list, each leading with the
 * workspace and ending in the list's sort (newest first, then id), and
 * trigram indexes for `search` (order number and notes, case-insensitive).
 * Updates lock the order row instead of comparing versions, so the unused
 * version column goes.
 */
export class Migration20261127140000_order_list extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "orders" drop column "version";`);
    this.addSql(`create index "orders_workspace_customer_created_index" on "orders" ("workspace_id", "customer_id", "created_at" desc, "id" desc);`);
    this.addSql(`create index "orders_workspace_status_created_index" on "orders" ("workspace_id", "status", "created_at" desc, "id" desc);`);
    this.addSql(`create index "orders_workspace_total_index" on "orders" ("workspace_id", "total");`);
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(`create index "orders_order_number_trgm_index" on "orders" using gin ("order_number" gin_trgm_ops);`);
    this.addSql(`create index "orders_notes_trgm_index" on "orders" using gin ("notes" gin_trgm_ops);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "orders_notes_trgm_index";`);
    this.addSql(`drop index if exists "orders_order_number_trgm_index";`);
    this.addSql(`drop index if exists "orders_workspace_total_index";`);
    this.addSql(`drop index if exists "orders_workspace_status_created_index";`);
    this.addSql(`drop index if exists "orders_workspace_customer_created_index";`);
    this.addSql(`alter table "orders" add column "version" int not null default 1;`);
  }
}
