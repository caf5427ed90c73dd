/**
 * `order-gateway webhook …`: manage a workspace's webhook endpoints (events
 * contract §4) from the command line, as an operator. The rules are the
 * webhook service's, as over GraphQL.
 */
import { type Command, Option } from 'commander';
import type { Config } from '../../config/config';
import type { Database } from '../../db/database';
import { AppError } from '../../errors/app-error';
import { DEFAULT_PREVIOUS_SECRET_SECONDS, MAX_PREVIOUS_SECRET_SECONDS } from '../../webhooks/webhook-secret';
import type { CliContext } from '../context';

// Loaded when a command runs (CommonJS `require`: the compiled CLI is CommonJS), so that other commands never load them.
/* eslint-disable @typescript-eslint/no-require-imports */
const load = () => ({
  AuthService: (require('../../auth/auth.service') as typeof import('../../auth/auth.service')).AuthService,
  WebhookService: (require('../../webhooks/webhook.service') as typeof import('../../webhooks/webhook.service')).WebhookService,
});
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * A whole number as a shell gives it. `Number()` reads '' and ' ' (an unset variable in
 * `--previous-secret-valid-for "$GRACE"`) as 0, and '0x3c' or '1e3' as numbers; anything
 * but digits is NaN here, which the service refuses with its own message, naming the field.
 */
const wholeNumber = (text: string): number => (/^[0-9]+$/.test(text) ? Number(text) : Number.NaN);

async function workspaceId(db: Database, slug: string): Promise<string> {
  const workspace = await new (load().AuthService)(db.em).findWorkspace(slug);
  if (!workspace) throw AppError.notFound(`Workspace ${slug}`);
  return workspace.id;
}

export function registerWebhookCommands(program: Command, context: CliContext): void {
  const config = () => context.config();
  const withDatabase = <T>(_settings: Config, run: (db: Database) => Promise<T>) => context.withDatabase(run);
  const print = context.print;
  const service = (db: Database, settings: Config) =>
    new (load().WebhookService)(db.em, { allowPrivateNetworks: settings.webhookAllowPrivateNetworks });
  const webhook = program.command('webhook').description('manage webhook endpoints');
  webhook
    .command('create')
    .description('register an endpoint; prints its signing secret once')
    .requiredOption('--workspace <slug>', 'workspace whose events it receives')
    .requiredOption('--url <url>', 'http(s) URL the events are POSTed to')
    .option('--events <types>', 'comma-separated event types (default: all)')
    .option('--json', 'print one JSON line: {"id","url","events","secret"}')
    .action(async (options: { workspace: string; url: string; events?: string; json?: boolean }) => {
      const settings = config();
      const created = await withDatabase(settings, async (db) =>
        service(db, settings).createEndpoint(
          { workspaceId: await workspaceId(db, options.workspace) },
          { url: options.url, events: options.events?.split(',').map((type) => type.trim()) },
        ),
      );
      if (options.json) {
        print(JSON.stringify({ id: created.id, url: created.url, events: created.events, secret: created.secret }));
      } else {
        print(`Created webhook endpoint ${created.id} for ${created.url} (${created.events.join(', ')}).`);
        print(`Signing secret (shown only this once): ${created.secret}`);
      }
    });
  webhook
    .command('list')
    .description("list a workspace's endpoints (never their secrets)")
    .requiredOption('--workspace <slug>', 'workspace to list')
    .option('--json', 'print one JSON line per endpoint')
    .action(async (options: { workspace: string; json?: boolean }) => {
      const settings = config();
      const endpoints = await withDatabase(settings, async (db) =>
        service(db, settings).listEndpoints({ workspaceId: await workspaceId(db, options.workspace) }),
      );
      for (const endpoint of endpoints) {
        if (options.json) print(JSON.stringify(endpoint));
        else print(`${endpoint.id}  ${endpoint.url}  ${endpoint.events.join(',')}${endpoint.enabled ? '' : '  disabled'}`);
      }
      if (!options.json && endpoints.length === 0) print(`Workspace ${options.workspace} has no webhook endpoints.`);
    });
  webhook
    .command('update <id>')
    .description("change an endpoint's URL or event types, or disable and enable it (its secret stays)")
    .option('--url <url>', 'a new http(s) URL for its deliveries')
    .option('--events <types>', 'comma-separated event types to send from now on')
    .addOption(new Option('--disable', 'send it nothing; its pending deliveries wait until it is enabled').conflicts('enable'))
    .addOption(new Option('--enable', 'send it events again, the deliveries that waited first'))
    .option('--json', 'print the endpoint as one JSON line')
    .action(async (id: string, options: { url?: string; events?: string; disable?: boolean; enable?: boolean; json?: boolean }) => {
      const settings = config();
      const updated = await withDatabase(settings, async (db) => {
        const webhooks = service(db, settings);
        const owner = await webhooks.workspaceOfEndpoint(id);
        if (!owner) throw AppError.notFound(`Webhook endpoint ${id}`);
        return webhooks.updateEndpoint(
          { workspaceId: owner },
          id,
          {
            url: options.url,
            events: options.events?.split(',').map((type) => type.trim()),
            enabled: options.disable ? false : options.enable ? true : undefined,
          },
        );
      });
      if (options.json) print(JSON.stringify(updated));
      else print(`${updated.id}  ${updated.url}  ${updated.events.join(',')}${updated.enabled ? '' : '  disabled'}`);
    });
  webhook
    .command('rotate-secret <id>')
    .description('give an endpoint a new signing secret, printed once; the old one signs beside it for a day')
    .option(
      '--previous-secret-valid-for <seconds>',
      `how long the old secret keeps signing: 0 (at once) to ${MAX_PREVIOUS_SECRET_SECONDS}`,
      String(DEFAULT_PREVIOUS_SECRET_SECONDS),
    )
    .option('--json', 'print one JSON line: {"id","secret","previousSecretExpiresAt"}')
    .action(async (id: string, options: { previousSecretValidFor: string; json?: boolean }) => {
      const settings = config();
      const rotated = await withDatabase(settings, async (db) => {
        const webhooks = service(db, settings);
        const owner = await webhooks.workspaceOfEndpoint(id);
        if (!owner) throw AppError.notFound(`Webhook endpoint ${id}`);
        return webhooks.rotateSecret({ workspaceId: owner }, id, wholeNumber(options.previousSecretValidFor));
      });
      const until = rotated.previousSecretExpiresAt?.toISOString() ?? null;
      if (options.json) {
        print(JSON.stringify({ id: rotated.id, secret: rotated.secret, previousSecretExpiresAt: until }));
      } else {
        print(`New signing secret of ${rotated.id} (shown only this once): ${rotated.secret}`);
        print(until ? `The previous secret signs every delivery beside it until ${until}.` : 'The previous secret no longer signs.');
      }
    });
  webhook
    .command('deliveries <id>')
    .description("an endpoint's deliveries, newest first, each with every attempt (time, status code or error, duration)")
    .option('--first <n>', 'how many deliveries, 1 to 100', '20')
    .option('--json', 'print one JSON line per delivery')
    .action(async (id: string, options: { first: string; json?: boolean }) => {
      const settings = config();
      const page = await withDatabase(settings, async (db) => {
        const webhooks = service(db, settings);
        const owner = await webhooks.workspaceOfEndpoint(id);
        if (!owner) throw AppError.notFound(`Webhook endpoint ${id}`);
        return webhooks.listDeliveries({ workspaceId: owner }, id, { first: wholeNumber(options.first) });
      });
      for (const { delivery } of page.edges) {
        if (options.json) {
          print(JSON.stringify(delivery));
          continue;
        }
        const when = delivery.deliveredAt
          ? `  delivered ${delivery.deliveredAt.toISOString()}`
          : delivery.nextAttemptAt
            ? `  next attempt ${delivery.nextAttemptAt.toISOString()}`
            : '';
        print(`${delivery.id}  ${delivery.eventType}  ${delivery.eventId}  ${delivery.status}${when}`);
        for (const attempt of delivery.attempts) {
          print(`  ${attempt.attemptedAt.toISOString()}  ${attempt.statusCode ?? attempt.error ?? ''}  ${attempt.durationMs} ms`);
        }
      }
      if (!options.json && page.edges.length === 0) print(`Endpoint ${id} has no deliveries.`);
    });
  webhook
    .command('redeliver <delivery-id>')
    .description('send a delivery again now, with a fresh retry schedule (one with an attempt under way is left to it)')
    .option('--json', 'print the delivery as one JSON line')
    .action(async (id: string, options: { json?: boolean }) => {
      const settings = config();
      const delivery = await withDatabase(settings, async (db) => {
        const webhooks = service(db, settings);
        const owner = await webhooks.workspaceOfDelivery(id);
        if (!owner) throw AppError.notFound(`Webhook delivery ${id}`);
        return webhooks.redeliver({ workspaceId: owner }, id);
      });
      if (options.json) print(JSON.stringify(delivery));
      else print(`${delivery.id}  ${delivery.eventType}  ${delivery.eventId}  ${delivery.status}  (a running gateway sends it)`);
    });
  webhook
    .command('delete <id>')
    .description('delete an endpoint and its deliveries')
    .action(async (id: string) => {
      const settings = config();
      await withDatabase(settings, async (db) => {
        const webhooks = service(db, settings);
        const owner = await webhooks.workspaceOfEndpoint(id);
        if (!owner) throw AppError.notFound(`Webhook endpoint ${id}`);
        await webhooks.deleteEndpoint({ workspaceId: owner }, id);
      });
      print(`Deleted ${id}`);
    });
}
