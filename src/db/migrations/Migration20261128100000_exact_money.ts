import { Migration } from '@mikro-orm/migrations';

/**
 * Amounts as numeric(19,4): every ISO 4217 exponent the service accepts (0, 2,
 * 3 and 4 digits: CLF and UYW have four) is stored exactly. numeric(18,3)
 * rounded CLF 0.0005 to 0.001. 19 digits keep 15 before the point (JPY at the
 * 15-significant-digit cap). Widening is lossless; it rewrites both tables.
 */
const ORDER_AMOUNTS = ['subtotal', 'shipping', 'tax', 'total'];
const ITEM_AMOUNTS = ['price', 'subtotal'];

const alter = (table: string, columns: string[], type: string) =>
  `alter table "${table}" ${columns.map((column) => `alter column "${column}" type ${type}`).join(', ')};`;

export class Migration20261128100000_exact_money extends Migration {
  override async up(): Promise<void> {
    this.addSql(alter('orders', ORDER_AMOUNTS, 'numeric(19,4)'));
    this.addSql(alter('order_items', ITEM_AMOUNTS, 'numeric(19,4)'));
  }

  override async down(): Promise<void> {
    // Rounds four-digit amounts back to three: the loss this migration exists to end.
    this.addSql(alter('order_items', ITEM_AMOUNTS, 'numeric(18,3)'));
    this.addSql(alter('orders', ORDER_AMOUNTS, 'numeric(18,3)'));
  }
}
