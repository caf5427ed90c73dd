/** One line for any failure a command ends with; the stack is printed only at LOG_LEVEL=debug (cli.ts). */
import { ConfigError } from '../config/config';
import { DatabaseStartError, SchemaNewerThanCodeError } from '../db/database-errors';
import { DataDirLockedError } from '../db/data-dir-lock';
import { AppError, formatPath } from '../errors/app-error';
import { NoDatabaseError, PendingMigrationsError } from './context';

/** Thrown by `serve` for a start-up failure it can name (a port in use, a bad HOST, pending migrations). */
export class StartupError extends Error {
  override name = 'StartupError';
}

export function explainError(error: unknown): string {
  if (
    error instanceof ConfigError ||
    error instanceof DataDirLockedError ||
    error instanceof NoDatabaseError ||
    error instanceof PendingMigrationsError ||
    error instanceof DatabaseStartError ||
    error instanceof SchemaNewerThanCodeError ||
    error instanceof StartupError
  ) {
    return error.message;
  }
  if (error instanceof AppError) {
    const details = error.details.map((d) => `${formatPath(d.path)} ${d.message}`).join('; ');
    return details || error.message;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `${message} (LOG_LEVEL=debug prints the stack)`;
}
