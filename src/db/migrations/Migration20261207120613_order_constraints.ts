import { Migration } from '@mikro-orm/migrations';

const STATUSES = ['pending', 'paid', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded'];

/**
 * The contract's rules become the database's too (see `order.entity.ts`), so
 * that a writer other than the service (a script, a second service, an older
 * release) cannot store what the API would refuse: a negative amount, a line
 * of no units, or a status outside the contract.
 * (The events table gets no unique (order, sequence, type): a fourth index on
 * the table every create and update inserts into, kept forever, to stop a
 * writer that has no business there; the service writes each event once in
 * the change's own statement, and consumers drop repeats by event id.)
 * Before this, PostgreSQL took all of them, and the gateway then answered
 * such an order with a status no client knows.
 *
 * Each table's checks are added `not valid` in one statement (one brief lock)
 * and validated after (a scan that lets reads through). Migrations run in one
 * transaction (`allOrNothing`), so the scan still runs under the first lock:
 * run `migrate` as the release step, before the new processes start.
 */
export class Migration20261207120613_order_constraints extends Migration {
  override async up(): Promise<void> {
    const status = STATUSES.map((value) => `status = '${value}'`).join(' or ');
    this.addSql(
      `alter table "orders" add constraint "orders_status_check" check (${status}) not valid, ` +
        `add constraint "orders_subtotal_check" check (subtotal >= 0) not valid, ` +
        `add constraint "orders_shipping_check" check (shipping >= 0) not valid, ` +
        `add constraint "orders_tax_check" check (tax >= 0) not valid, ` +
        `add constraint "orders_total_check" check (total >= 0) not valid;`,
    );
    for (const name of ['status', 'subtotal', 'shipping', 'tax', 'total']) {
      this.addSql(`alter table "orders" validate constraint "orders_${name}_check";`);
    }
    this.addSql(
      `alter table "order_items" add constraint "order_items_quantity_check" check (quantity > 0) not valid, ` +
        `add constraint "order_items_price_check" check (price >= 0) not valid, ` +
        `add constraint "order_items_subtotal_check" check (subtotal >= 0) not valid;`,
    );
    for (const name of ['quantity', 'price', 'subtotal']) {
      this.addSql(`alter table "order_items" validate constraint "order_items_${name}_check";`);
    }
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "order_items" drop constraint "order_items_quantity_check", drop constraint "order_items_price_check", drop constraint "order_items_subtotal_check";`,
    );
    this.addSql(
      `alter table "orders" drop constraint "orders_status_check", drop constraint "orders_subtotal_check", drop constraint "orders_shipping_check", drop constraint "orders_tax_check", drop constraint "orders_total_check";`,
    );
  }
}
