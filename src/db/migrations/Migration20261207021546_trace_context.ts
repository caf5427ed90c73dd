import { Migration } from '@mikro-orm/migrations';

/**
 * The W3C trace context of the request that made a change, kept with its
 * event so that the relay and the webhook dispatcher pass it on (the
 * CloudEvents Distributed Tracing extension). Rows written before stay
 * null: their events leave without the extension, as before.
 */
export class Migration20261207021546_trace_context extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "order_events" add column "traceparent" varchar(55) null, add column "tracestate" varchar(512) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "order_events" drop column "traceparent", drop column "tracestate";`);
  }
}
