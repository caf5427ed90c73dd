/**
 * The `order-gateway` command. It uses the same configuration and database
 * selection as the server (DATA_DIR or DATABASE_URL; `.env` in the current
 * folder is read first, the real environment wins), and applies pending
 * migrations first unless MIGRATE_ON_START=false.
 *
 * Each command group is a module of its own under `commands/`, and each loads
 * what it needs only when it runs: `apikey list` opens MikroORM and nothing of
 * the HTTP stack; only `serve` loads Fastify, Apollo and TypeGraphQL. To add a
 * group, add a `register…` function there and call it in `buildCli`.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadEnvFile } from '../config/env-file';
import { registerApiKey } from './commands/apikey';
import { registerMigrate } from './commands/migrate';
import { registerServe } from './commands/serve';
import { registerWebhookCommands } from './commands/webhook';
import { registerWorkspace } from './commands/workspace';
import { createContext, type Print } from './context';
import { explainError } from './errors';
import { exitCodeFor } from './exit-codes';

/** Set when the reader of that stream has gone (`… | head -1`): the rest of its output is dropped. */
const closed = { stdout: false, stderr: false };
const stdout: Print = (line) => void (closed.stdout || process.stdout.write(`${line}\n`));
const stderr: Print = (line) => void (closed.stderr || process.stderr.write(`${line}\n`));

/**
 * A reader that stops early (`order-gateway apikey list | head -1`) closes the pipe, and the
 * next write fails with EPIPE, which Node throws as an unhandled 'error' event: a stack on
 * stderr and exit code 1 for a script that got what it asked for. Such a reader is taken at its
 * word instead: the command finishes (closing its database), writes nothing more there, and
 * exits 0. Commander's help and error text go through the same streams.
 */
function quietWhenTheReaderLeaves(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      closed[name] = true;
    });
  }
}

function version(): string {
  // ../../package.json from both src/cli and dist/cli.
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildCli(print: Print = stdout, note: Print = stderr, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('order-gateway')
    .description('Order gateway: GraphQL and Cekat-compatible REST order API')
    .version(version(), '-v, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  const context = createContext(print, note, env);
  registerServe(program, context);
  registerMigrate(program, context);
  registerWorkspace(program, context);
  registerApiKey(program, context);
  registerWebhookCommands(program, context);
  return program;
}

/** Runs the CLI and turns expected failures into one readable line and an exit code that says what kind of failure it was (exit-codes.ts). */
export async function runCli(argv: string[]): Promise<void> {
  quietWhenTheReaderLeaves();
  try {
    loadEnvFile(process.env);
    await buildCli().parseAsync(argv);
  } catch (error) {
    // Commander has printed its own help or error text already.
    process.exitCode = exitCodeFor(error);
    if (error instanceof CommanderError) return;
    const debug = process.env.LOG_LEVEL?.trim() === 'debug' || process.env.LOG_LEVEL?.trim() === 'trace';
    stderr(`order-gateway: ${explainError(error)}`);
    if (debug && error instanceof Error && error.stack) stderr(error.stack);
    // Whatever a failed start left open (a pool, a timer) must not keep the process alive.
    setTimeout(() => process.exit(), 1000).unref();
  }
}

if (require.main === module) void runCli(process.argv);
