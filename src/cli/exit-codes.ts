/**
 * The exit code of a command that failed, so that a script (or a supervisor such as systemd) can
 * tell "try again later" from "fix something first" without reading the message. The numbers are
 * the BSD sysexits.h ones that mean the same, which many tools share:
 *
 * - 64 (EX_USAGE): the command line is wrong (an unknown option, a missing argument).
 * - 65 (EX_DATAERR): a value given to the command is refused (a bad slug, time zone or URL).
 * - 75 (EX_TEMPFAIL): the command could not run now and may succeed unchanged later: the database
 *   refused the connection, is starting up or full, timed out, or is unavailable; another process
 *   holds DATA_DIR; the port is in use.
 * - 78 (EX_CONFIG): the configuration must change first: a bad variable, a database that does not
 *   exist or refuses these credentials, pending migrations with MIGRATE_ON_START=false, a schema
 *   newer than this release, an unusable DATA_DIR or HOST.
 * - 1: any other failure, such as something the command names that does not exist.
 *
 * A `serve` that started and then stopped badly (the shutdown did not finish) exits 1, as before.
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config/config';
import { DatabaseStartError, SchemaNewerThanCodeError, isTemporaryDatabaseFailure } from '../db/database-errors';
import { DataDirLockedError } from '../db/data-dir-lock';
import { AppError, ErrorCode } from '../errors/app-error';
import { NoDatabaseError, PendingMigrationsError } from './context';
import { StartupError } from './errors';

export const ExitCode = {
  FAILED: 1,
  USAGE: 64,
  DATA_ERROR: 65,
  TRY_AGAIN_LATER: 75,
  CONFIG: 78,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : ExitCode.USAGE;
  if (error instanceof DataDirLockedError) return ExitCode.TRY_AGAIN_LATER;
  if (error instanceof DatabaseStartError)
    return isTemporaryDatabaseFailure(error.cause) ? ExitCode.TRY_AGAIN_LATER : ExitCode.CONFIG;
  if (error instanceof StartupError)
    return (error.cause as { code?: unknown } | undefined)?.code === 'EADDRINUSE' ? ExitCode.TRY_AGAIN_LATER : ExitCode.CONFIG;
  if (
    error instanceof ConfigError ||
    error instanceof NoDatabaseError ||
    error instanceof PendingMigrationsError ||
    error instanceof SchemaNewerThanCodeError
  )
    return ExitCode.CONFIG;
  if (error instanceof AppError) {
    if (error.code === ErrorCode.VALIDATION_ERROR) return ExitCode.DATA_ERROR;
    if (error.code === ErrorCode.SERVICE_UNAVAILABLE) return ExitCode.TRY_AGAIN_LATER;
  }
  return ExitCode.FAILED;
}
