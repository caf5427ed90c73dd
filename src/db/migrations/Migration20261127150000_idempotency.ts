import { Migration } from '@mikro-orm/migrations';

/** Idempotency keys: one row per completed keyed create, scoped to the workspace, swept after expiry. */
export class Migration20261127150000_idempotency extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "idempotency_keys" ("workspace_id" varchar(40) not null, "key" varchar(255) not null, "fingerprint" varchar(64) not null, "order_id" varchar(40) not null, "response" jsonb not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, constraint "idempotency_keys_pkey" primary key ("workspace_id", "key"));`);
    this.addSql(`create index "idempotency_keys_expires_at_index" on "idempotency_keys" ("expires_at");`);
    this.addSql(`create index "idempotency_keys_order_id_index" on "idempotency_keys" ("order_id");`);
    this.addSql(`alter table "idempotency_keys" add constraint "idempotency_keys_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "idempotency_keys" add constraint "idempotency_keys_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "idempotency_keys" cascade;`);
  }
}
