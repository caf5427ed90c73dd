/**
 * The `order-gateway` command. It uses the same configuration and database
 * selection as the server (DATA_DIR or DATABASE_URL), and applies pending
 * migrations first unless MIGRATE_ON_START=false.
 */
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { AuthService } from '../auth/auth.service';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { databaseTarget, openDatabase, type Database } from '../db/database';
import { DataDirLockedError } from '../db/data-dir-lock';
import { AppError, formatPath } from '../errors/app-error';
import { serve } from '../main';
import { registerWebhookCommands } from './webhook.commands';

type Print = (line: string) => void;

async function withDatabase<T>(config: Config, run: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(databaseTarget(config));
  try {
    if (config.migrateOnStart) await db.migrate();
    return await run(db);
  } finally {
    await db.close();
  }
}

export function buildCli(print: Print = (line) => process.stdout.write(`${line}\n`)): Command {
  const program = new Command('order-gateway')
    .description('Order gateway: GraphQL and Cekat-compatible REST order API')
    .showHelpAfterError()
    .exitOverride();
  const config = () => loadConfig();

  program
    .command('serve')
    .description('start the HTTP server (GraphQL at /graphql, REST at /api)')
    .action(() => serve(config()));

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const db = await openDatabase(databaseTarget(config()));
      try {
        const applied = await db.migrate();
        print(applied.length > 0 ? `Applied ${applied.join(', ')}` : 'The database is up to date.');
      } finally {
        await db.close();
      }
    });

  const workspace = program.command('workspace').description('manage workspaces');
  workspace
    .command('create <slug>')
    .description('create a workspace')
    .option('--timezone <zone>', 'IANA time zone for order-number dates', 'UTC')
    .action(async (slug: string, options: { timezone: string }) => {
      const created = await withDatabase(config(), (db) => new AuthService(db.em).createWorkspace(slug, options.timezone));
      print(`Created workspace ${created.slug} (${created.id}, time zone ${created.timeZone})`);
    });

  const apikey = program.command('apikey').description('manage API keys');
  apikey
    .command('create')
    .description('create an API key; the workspace is created when missing')
    .requiredOption('--workspace <slug>', 'workspace the key belongs to')
    .option('--name <label>', 'a label to recognise the key by')
    .option('--json', 'print one JSON line: {"id","key","workspace"}')
    .action(async (options: { workspace: string; name?: string; json?: boolean }) => {
      const created = await withDatabase(config(), (db) => new AuthService(db.em).createApiKey(options.workspace, options.name));
      if (options.json) {
        print(JSON.stringify({ id: created.id, key: created.key, workspace: created.workspace }));
      } else {
        print(`Created API key ${created.id} for workspace ${created.workspace}.`);
        print(`Key (shown only this once): ${created.key}`);
      }
    });
  apikey
    .command('list')
    .description('list the keys of a workspace (prefixes only)')
    .requiredOption('--workspace <slug>', 'workspace to list')
    .option('--json', 'print one JSON line per key')
    .action(async (options: { workspace: string; json?: boolean }) => {
      const keys = await withDatabase(config(), (db) => new AuthService(db.em).listApiKeys(options.workspace));
      for (const key of keys) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active';
        if (options.json) print(JSON.stringify({ ...key, status: key.revokedAt ? 'revoked' : 'active' }));
        else print(`${key.id}  ${key.prefix}…  ${state}  ${key.name ?? ''}`.trimEnd());
      }
      if (!options.json && keys.length === 0) print(`Workspace ${options.workspace} has no keys.`);
    });
  apikey
    .command('revoke <id>')
    .description('revoke a key; it stops working at once')
    .action(async (id: string) => {
      await withDatabase(config(), (db) => new AuthService(db.em).revokeApiKey(id));
      print(`Revoked ${id}`);
    });

  registerWebhookCommands(program, config, withDatabase, print);

  return program;
}

/** Runs the CLI and turns expected failures into one readable line and a non-zero exit code. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    process.exitCode = 1;
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      process.stderr.write(`order-gateway: ${error.message}\n`);
    } else if (error instanceof AppError) {
      const details = error.details.map((d) => `${formatPath(d.path)} ${d.message}`).join('; ');
      process.stderr.write(`order-gateway: ${details || error.message}\n`);
    } else {
      process.stderr.write(`order-gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
}

if (require.main === module) void runCli(process.argv);
