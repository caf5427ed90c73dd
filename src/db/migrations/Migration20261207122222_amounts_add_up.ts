import { Migration } from '@mikro-orm/migrations';

/**
 * An order's amounts add up in the database too: its total is its items'
 * subtotal plus shipping plus tax, and a line's subtotal is its price times
 * its quantity, as the create checked them (amounts never change after it).
 * Before, any writer could store a total that the lines did not make, and the
 * API served it as the order's. That the order's subtotal is the sum of its
 * lines spans two tables, which a check cannot see; the create writes both in
 * one statement. Added `not valid`, then validated (see order_constraints).
 */
export class Migration20261207122222_amounts_add_up extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "orders" add constraint "orders_total_adds_up_check" check (total = subtotal + shipping + tax) not valid;`,
    );
    this.addSql(`alter table "orders" validate constraint "orders_total_adds_up_check";`);
    this.addSql(
      `alter table "order_items" add constraint "order_items_subtotal_adds_up_check" check (subtotal = price * quantity) not valid;`,
    );
    this.addSql(`alter table "order_items" validate constraint "order_items_subtotal_adds_up_check";`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "order_items" drop constraint "order_items_subtotal_adds_up_check";`);
    this.addSql(`alter table "orders" drop constraint "orders_total_adds_up_check";`);
  }
}
