/** `order-gateway workspace create|list`. Loads the database modules and AuthService only, when a command runs. */
import type { Command } from 'commander';
import type { CliContext } from '../context';

// Loaded when a command runs (CommonJS `require`: the compiled CLI is CommonJS), so that `--help` loads no database code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const authService = async () => (require('../../auth/auth.service') as typeof import('../../auth/auth.service')).AuthService;

export function registerWorkspace(program: Command, context: CliContext): void {
  const workspace = program.command('workspace').description('manage workspaces');
  workspace
    .command('create <slug>')
    .description('create a workspace')
    .option('--timezone <zone>', 'IANA time zone for order-number dates', 'UTC')
    .option('--json', 'print one JSON line: {"id","slug","timeZone"}')
    .action(async (slug: string, options: { timezone: string; json?: boolean }) => {
      const AuthService = await authService();
      const created = await context.withDatabase((db) => new AuthService(db.em).createWorkspace(slug, options.timezone));
      if (options.json) context.print(JSON.stringify({ id: created.id, slug: created.slug, timeZone: created.timeZone }));
      else context.print(`Created workspace ${created.slug} (${created.id}, time zone ${created.timeZone})`);
    });
  workspace
    .command('list')
    .description('list the workspaces, with their time zones and active keys')
    .option('--json', 'print one JSON line per workspace')
    .action(async (options: { json?: boolean }) => {
      const AuthService = await authService();
      const workspaces = await context.withDatabase((db) => new AuthService(db.em).listWorkspaces());
      for (const w of workspaces) {
        if (options.json) context.print(JSON.stringify(w));
        else context.print(`${w.slug}  ${w.id}  ${w.timeZone}  ${w.activeKeys} active key${w.activeKeys === 1 ? '' : 's'}`);
      }
      if (!options.json && workspaces.length === 0) context.print('No workspaces yet (`order-gateway workspace create <slug>`).');
    });
}
