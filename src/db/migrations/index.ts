import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127130000_initial } from './Migration20261127130000_initial';
import { Migration20261127140000_order_list } from './Migration20261127140000_order_list';
import { Migration20261127150000_idempotency } from './Migration20261127150000_idempotency';
import { Migration20261128100000_exact_money } from './Migration20261128100000_exact_money';
import { Migration20261201163433_outbox } from './Migration20261201163433_outbox';
import { Migration20261201170000_sync_order } from './Migration20261201170000_sync_order';
import { Migration20261201170946_webhooks } from './Migration20261201170946_webhooks';
import { Migration20261201200543_event_queue } from './Migration20261201200543_event_queue';
import { Migration20261202060000_event_data_json } from './Migration20261202060000_event_data_json';
import { Migration20261206023703_webhook_secret_rotation } from './Migration20261206023703_webhook_secret_rotation';
import { Migration20261207021546_trace_context } from './Migration20261207021546_trace_context';
import { Migration20261207120613_order_constraints } from './Migration20261207120613_order_constraints';
import { Migration20261207122222_amounts_add_up } from './Migration20261207122222_amounts_add_up';

/** Every migration, in order. Listed explicitly so that they run the same from `src/` and `dist/`. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261127130000_initial', class: Migration20261127130000_initial },
  { name: 'Migration20261127140000_order_list', class: Migration20261127140000_order_list },
  { name: 'Migration20261127150000_idempotency', class: Migration20261127150000_idempotency },
  { name: 'Migration20261128100000_exact_money', class: Migration20261128100000_exact_money },
  { name: 'Migration20261201163433_outbox', class: Migration20261201163433_outbox },
  { name: 'Migration20261201170000_sync_order', class: Migration20261201170000_sync_order },
  { name: 'Migration20261201170946_webhooks', class: Migration20261201170946_webhooks },
  { name: 'Migration20261201200543_event_queue', class: Migration20261201200543_event_queue },
  { name: 'Migration20261202060000_event_data_json', class: Migration20261202060000_event_data_json },
  { name: 'Migration20261206023703_webhook_secret_rotation', class: Migration20261206023703_webhook_secret_rotation },
  { name: 'Migration20261207021546_trace_context', class: Migration20261207021546_trace_context },
  { name: 'Migration20261207120613_order_constraints', class: Migration20261207120613_order_constraints },
  { name: 'Migration20261207122222_amounts_add_up', class: Migration20261207122222_amounts_add_up },
];
