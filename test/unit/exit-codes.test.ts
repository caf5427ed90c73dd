/**
 * The CLI's exit code for each kind of failure (src/cli/exit-codes.ts). The processes' own codes
 * are checked end to end in test/integration/cli.test.ts, startup.test.ts and
 * test/outside/cli-scripting.test.ts; the database's passing refusals (starting up, no slot
 * free, a pool timeout) are hard to cause on purpose, so they are checked here.
 */
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes';
import { StartupError } from '../../src/cli/errors';
import { ConfigError } from '../../src/config/config';
import { DatabaseStartError } from '../../src/db/database-errors';
import { AppError, ErrorCode } from '../../src/errors/app-error';

const databaseFailure = (cause: object) => new DatabaseStartError('DATABASE_URL (…): …', { cause });

describe('exitCodeFor', () => {
  it.each([
    ['PostgreSQL starting up (57P03)', { code: '57P03' }],
    ['no connection slot left (53300)', { code: '53300' }],
    ['connection refused', { code: 'ECONNREFUSED' }],
    ['a name that did not resolve this time', { code: 'EAI_AGAIN' }],
    ["node-postgres's connect timeout", { message: 'timeout expired' }],
    ["the pool's acquire timeout", { message: 'Timeout: could not acquire a connection' }],
  ])('75 (try again later) for a database failure that may pass: %s', (_, cause) => {
    expect(exitCodeFor(databaseFailure(cause))).toBe(ExitCode.TRY_AGAIN_LATER);
  });

  it.each([
    ['a database that does not exist (3D000)', { code: '3D000' }],
    ['a wrong password (28P01)', { code: '28P01' }],
    ['a host that does not exist', { code: 'ENOTFOUND' }],
    ['a certificate refused', { code: 'SELF_SIGNED_CERT_IN_CHAIN' }],
    ['DATA_DIR not writable', { code: 'EACCES' }],
  ])('78 (fix the configuration) for a database failure that will not pass by itself: %s', (_, cause) => {
    expect(exitCodeFor(databaseFailure(cause))).toBe(ExitCode.CONFIG);
  });

  it('a port in use is 75, an address that is not this machine 78', () => {
    expect(exitCodeFor(new StartupError('PORT 3000 is in use', { cause: { code: 'EADDRINUSE' } }))).toBe(75);
    expect(exitCodeFor(new StartupError('HOST 192.0.2.1 is not an address of this machine', { cause: { code: 'EADDRNOTAVAIL' } }))).toBe(78);
  });

  it('usage 64 (help and --version stay 0), a refused value 65, a bad setting 78, an unavailable service 75, anything else 1', () => {
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"))).toBe(64);
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(0);
    expect(exitCodeFor(AppError.validation([{ path: ['slug'], message: 'is taken' }]))).toBe(65);
    expect(exitCodeFor(new ConfigError('PORT must be a number'))).toBe(78);
    expect(exitCodeFor(new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'the database is unavailable'))).toBe(75);
    expect(exitCodeFor(AppError.notFound('API key key_x'))).toBe(1);
    expect(exitCodeFor(new Error('something else'))).toBe(1);
  });
});
