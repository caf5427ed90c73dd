import { Migration } from '@mikro-orm/migrations';

/** The transactional outbox (order_events) and each order's version, the `sequence` of its events. */
export class Migration20261201163433_outbox extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "order_events" ("position" bigserial primary key, "id" varchar(40) not null, "workspace_id" varchar(40) not null, "order_id" varchar(40) not null, "type" varchar(32) not null, "sequence" int not null, "time" timestamptz not null, "data" jsonb not null, "published_at" timestamptz null, "claimed_until" timestamptz null, "attempts" int not null default 0, "last_error" text null);`);
    this.addSql(`alter table "order_events" add constraint "order_events_id_unique" unique ("id");`);
    this.addSql(`create index "order_events_pending_order_index" on "order_events" ("order_id", "position") where "published_at" is null;`);
    this.addSql(`create index "order_events_pending_index" on "order_events" ("position") where "published_at" is null;`);

    this.addSql(`alter table "order_events" add constraint "order_events_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "order_events" add constraint "order_events_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "orders" add column "version" int not null default 1;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "order_events" cascade;`);

    this.addSql(`alter table "orders" drop column "version";`);
  }
}
