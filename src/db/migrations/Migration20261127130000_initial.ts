import { Migration } from '@mikro-orm/migrations';

/**
 * Workspaces, API keys, orders, order items and the order-number counter.
 * Generated from the entities, plus the index the order list reads by.
 */
export class Migration20261127130000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "workspaces" ("id" varchar(40) not null, "slug" varchar(64) not null, "time_zone" varchar(64) not null default 'UTC', "created_at" timestamptz not null, constraint "workspaces_pkey" primary key ("id"));`);
    this.addSql(`alter table "workspaces" add constraint "workspaces_slug_unique" unique ("slug");`);

    this.addSql(`create table "api_keys" ("id" varchar(40) not null, "workspace_id" varchar(40) not null, "name" varchar(200) null, "prefix" varchar(16) not null, "secret_hash" varchar(64) not null, "created_at" timestamptz not null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, constraint "api_keys_pkey" primary key ("id"));`);
    this.addSql(`create index "api_keys_workspace_id_index" on "api_keys" ("workspace_id");`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_secret_hash_unique" unique ("secret_hash");`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "order_number_counters" ("workspace_id" varchar(40) not null, "day" date not null, "last_value" int not null, constraint "order_number_counters_pkey" primary key ("workspace_id", "day"));`);
    this.addSql(`alter table "order_number_counters" add constraint "order_number_counters_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "orders" ("id" varchar(40) not null, "workspace_id" varchar(40) not null, "order_number" varchar(32) not null, "customer_id" varchar(128) not null, "status" varchar(16) not null, "currency" varchar(3) not null, "subtotal" numeric(18,3) not null, "shipping" numeric(18,3) not null, "tax" numeric(18,3) not null, "total" numeric(18,3) not null, "shipping_address" jsonb null, "billing_address" jsonb null, "notes" text null, "metadata" jsonb null, "tracking_number" varchar(255) null, "tracking_url" text null, "status_history" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "orders_pkey" primary key ("id"));`);
    // Also serves every lookup of a workspace's orders by number, and the foreign key.
    this.addSql(`alter table "orders" add constraint "orders_workspace_id_order_number_unique" unique ("workspace_id", "order_number");`);
    this.addSql(`alter table "orders" add constraint "orders_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    // The order list: one workspace, newest first, ties broken by id.
    this.addSql(`create index "orders_workspace_id_created_at_id_index" on "orders" ("workspace_id", "created_at" desc, "id" desc);`);

    // The primary key (order_id, position) also indexes the foreign key.
    this.addSql(`create table "order_items" ("order_id" varchar(40) not null, "position" int not null, "product_id" varchar(128) not null, "name" text null, "quantity" int not null, "price" numeric(18,3) not null, "sku" varchar(128) null, "subtotal" numeric(18,3) not null, constraint "order_items_pkey" primary key ("order_id", "position"));`);
    this.addSql(`alter table "order_items" add constraint "order_items_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "order_items" cascade;`);
    this.addSql(`drop table if exists "orders" cascade;`);
    this.addSql(`drop table if exists "order_number_counters" cascade;`);
    this.addSql(`drop table if exists "api_keys" cascade;`);
    this.addSql(`drop table if exists "workspaces" cascade;`);
  }
}
