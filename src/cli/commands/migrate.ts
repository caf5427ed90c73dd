/** `order-gateway migrate`: applies pending migrations (the release step before starting new servers). */
import type { Command } from 'commander';
import type { CliContext } from '../context';

export function registerMigrate(program: Command, context: CliContext): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const applied = await context.withDatabase((db) => db.migrate(), { autoMigrate: false });
      context.print(applied.length > 0 ? `Applied ${applied.join(', ')}` : 'The database is up to date.');
    });
}
