import { Migration } from '@mikro-orm/migrations';

/**
 * Webhook secret rotation (`WebhookService.rotateSecret`): an endpoint keeps
 * its previous secret, and when it stops signing, beside the new one.
 */
export class Migration20261206023703_webhook_secret_rotation extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "webhook_endpoints" add column "previous_secret" varchar(128) null, add column "previous_secret_expires_at" timestamptz null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "webhook_endpoints" drop column "previous_secret", drop column "previous_secret_expires_at";`);
  }
}
