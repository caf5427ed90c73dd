import { Migration } from '@mikro-orm/migrations';

/**
 * Publishing state moves out of `order_events` into `order_event_queue` (see
 * `order-event.entity.ts`): the events not yet published become queue rows,
 * with their lease, attempts and last error; the log keeps only the events,
 * and neither table has foreign keys (the entity says why).
 */
export class Migration20261201200543_event_queue extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "order_event_queue" ("position" bigint not null, "order_id" varchar(40) not null, "claimed_until" timestamptz null, "attempts" int not null default 0, "last_error" text null, constraint "order_event_queue_pkey" primary key ("position"));`,
    );
    this.addSql(
      `create index "order_event_queue_order_id_position_index" on "order_event_queue" ("order_id", "position");`,
    );
    this.addSql(
      `insert into "order_event_queue" ("position", "order_id", "claimed_until", "attempts", "last_error")
       select "position", "order_id", "claimed_until", "attempts", "last_error" from "order_events" where "published_at" is null;`,
    );
    this.addSql(`alter table "order_events" drop constraint "order_events_order_id_foreign";`);
    this.addSql(`alter table "order_events" drop constraint "order_events_workspace_id_foreign";`);
    this.addSql(`drop index "order_events_pending_index";`);
    this.addSql(`drop index "order_events_pending_order_index";`);
    this.addSql(
      `alter table "order_events" drop column "published_at", drop column "claimed_until", drop column "attempts", drop column "last_error";`,
    );
    // The relay now makes a batch's deliveries in one statement, stamped to the millisecond like the
    // deliveries' page cursors; older rows are brought to the same precision.
    this.addSql(`update "webhook_deliveries" set "created_at" = date_trunc('milliseconds', "created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "order_events" add column "published_at" timestamptz(6) null, add column "claimed_until" timestamptz(6) null, add column "attempts" int4 not null default 0, add column "last_error" text null;`,
    );
    // Events no longer queued were published; when is not known any more.
    this.addSql(
      `update "order_events" e set "published_at" = e."time" where not exists (select 1 from "order_event_queue" q where q."position" = e."position");`,
    );
    this.addSql(
      `update "order_events" e set "claimed_until" = q."claimed_until", "attempts" = q."attempts", "last_error" = q."last_error" from "order_event_queue" q where q."position" = e."position";`,
    );
    this.addSql(
      `create index "order_events_pending_index" on "order_events" ("position") where "published_at" is null;`,
    );
    this.addSql(
      `create index "order_events_pending_order_index" on "order_events" ("order_id", "position") where "published_at" is null;`,
    );
    this.addSql(
      `alter table "order_events" add constraint "order_events_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "order_events" add constraint "order_events_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(`drop table if exists "order_event_queue" cascade;`);
  }
}
