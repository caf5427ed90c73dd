/** `order-gateway apikey create|list|revoke`. Loads the database modules and AuthService only, when a command runs. */
import type { Command } from 'commander';
import type { CliContext } from '../context';

// Loaded when a command runs (CommonJS `require`: the compiled CLI is CommonJS), so that `--help` loads no database code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const authService = async () => (require('../../auth/auth.service') as typeof import('../../auth/auth.service')).AuthService;

export function registerApiKey(program: Command, context: CliContext): void {
  const apikey = program.command('apikey').description('manage API keys');
  apikey
    .command('create')
    .description('create an API key; a workspace that does not exist is created (and the command says so)')
    .requiredOption('--workspace <slug>', 'workspace the key belongs to')
    .option('--name <label>', 'a label to recognise the key by')
    .option('--json', 'print one JSON line: {"id","key","workspace"} (the note about a new workspace goes to stderr)')
    .action(async (options: { workspace: string; name?: string; json?: boolean }) => {
      const AuthService = await authService();
      const created = await context.withDatabase((db) => new AuthService(db.em).createApiKey(options.workspace, options.name));
      const workspaceNote = `Created workspace ${created.workspace} (time zone UTC; it did not exist).`;
      if (options.json) {
        if (created.workspaceCreated) context.note(`order-gateway: ${workspaceNote}`);
        context.print(JSON.stringify({ id: created.id, key: created.key, workspace: created.workspace }));
      } else {
        if (created.workspaceCreated) context.print(workspaceNote);
        context.print(`Created API key ${created.id} for workspace ${created.workspace}.`);
        context.print(`Key (shown only this once): ${created.key}`);
      }
    });
  apikey
    .command('list')
    .description('list the keys of a workspace (prefixes only)')
    .requiredOption('--workspace <slug>', 'workspace to list')
    .option('--json', 'print one JSON line per key')
    .action(async (options: { workspace: string; json?: boolean }) => {
      const AuthService = await authService();
      const keys = await context.withDatabase((db) => new AuthService(db.em).listApiKeys(options.workspace));
      for (const key of keys) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active';
        if (options.json) context.print(JSON.stringify({ ...key, status: key.revokedAt ? 'revoked' : 'active' }));
        else context.print(`${key.id}  ${key.prefix}…  ${state}  ${key.name ?? ''}`.trimEnd());
      }
      if (!options.json && keys.length === 0) context.print(`Workspace ${options.workspace} has no keys.`);
    });
  apikey
    .command('revoke <id>')
    .description('revoke a key; servers refuse it within API_KEY_CACHE_TTL_MS')
    .action(async (id: string) => {
      const AuthService = await authService();
      await context.withDatabase((db) => new AuthService(db.em).revokeApiKey(id));
      context.print(`Revoked ${id}`);
    });
}
