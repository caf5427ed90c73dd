import { Migration } from '@mikro-orm/migrations';

/**
 * `order_events.data` becomes `json` (the text as written; see
 * `order-event.entity.ts`), and an `order.created` row's `time` becomes the
 * `updated_at` its order was created with, which readers now take from it.
 * Older such rows were stamped with the application's clock and hold the
 * order's `updated_at` (to the second) in their data: a row whose second is
 * earlier than that takes the data's value, so that it reads back the same.
 */
export class Migration20261202060000_event_data_json extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `update "order_events" set "time" = ("data" #>> '{order,updated_at}')::timestamptz
       where "type" = 'order.created' and date_trunc('second', "time") < ("data" #>> '{order,updated_at}')::timestamptz;`,
    );
    this.addSql(`alter table "order_events" alter column "data" type json using "data"::json;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "order_events" alter column "data" type jsonb using "data"::jsonb;`);
    this.addSql(
      `update "order_events" set "data" = jsonb_set("data", '{order,updated_at}', to_jsonb(to_char("time" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
       where "type" = 'order.created';`,
    );
  }
}
