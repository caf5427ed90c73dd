/**
 * The pino options of the app: JSON lines, one per request plus errors, with
 * keys redacted wherever a serializer or plugin might print a header.
 * Development on a terminal gets pino-pretty's readable lines instead.
 */
import type { FastifyServerOptions } from 'fastify';
import pino from 'pino';
import type { Config } from '../config/config';

export const REDACTED_PATHS = ['req.headers.authorization', 'headers.authorization', 'authorization'];

/** What an API key looks like anywhere in text (`ogk_` and its secret; see auth/api-key.ts). */
const API_KEY_IN_TEXT = /ogk_[A-Za-z0-9_-]+/g;

/** Any API key in the text replaced by `ogk_[redacted]`. */
export function redactKeys(text: string): string {
  return text.replace(API_KEY_IN_TEXT, 'ogk_[redacted]');
}

/**
 * A request URL as it may be logged: the path (with any API key and any
 * segment that may be personal data redacted) and the names of the query parameters, every value replaced by
 * `[redacted]`. A query string can carry a key a client put there by mistake
 * (`?api_key=ogk_…`), a customer id or search text; the log needs none of them.
 */
export function redactUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const path = redactKeys(withoutPersonalSegments(queryAt === -1 ? url : url.slice(0, queryAt)));
  if (queryAt === -1) return path;
  const names = url
    .slice(queryAt + 1)
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => `${redactKeys(pair.split('=', 1)[0])}=[redacted]`);
  return `${path}?${names.join('&')}`;
}

/** An id of ours (`order_`, `key_`, `ws_`… and a ULID), which a path may carry and the log keeps. */
const OUR_ID = /^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/;
/** A path segment the log keeps as written: a word, a number of a few digits, an order number. */
const PLAIN_SEGMENT = /^[A-Za-z0-9._~-]*$/;
/** Seven digits in a row: a phone number or a card number rather than anything of a route. */
const LONG_NUMBER = /\d{7}/;

/**
 * A path with every segment that may be personal data replaced by `[redacted]`: one with an `@`
 * or anything percent-encoded (an e-mail address or a name a client put where an order id goes,
 * `/api/orders/jane%40example.com`), or a long number (a phone or card number). Ids of ours, route
 * names and order numbers stay, so a 404 is still read from the log.
 */
export function withoutPersonalSegments(path: string): string {
  return path
    .split('/')
    .map((segment) => (OUR_ID.test(segment) || (PLAIN_SEGMENT.test(segment) && !LONG_NUMBER.test(segment)) ? segment : '[redacted]'))
    .join('/');
}

/** The start of an SQL statement, as knex begins the message of one that failed. */
const STATEMENT_START = /^\s*(select|insert|update|delete|with|begin|commit|rollback|savepoint|release|set|lock|create|alter|drop|vacuum)\b/i;

/**
 * A failed statement's message without the values written into it. MikroORM writes a query's
 * values into its text, and knex begins the error's message with that text (`<statement> -
 * <PostgreSQL's reason>`): an update's notes and shipping address, a webhook's secret. The
 * statement is kept up to its first quoted value, then `[values not logged]`, then the reason.
 */
export function withoutStatementValues(message: string): string {
  if (!STATEMENT_START.test(message)) return message;
  const reasonAt = message.lastIndexOf(' - ');
  if (reasonAt === -1) return message;
  return `${statementWithoutValues(message.slice(0, reasonAt))}${message.slice(reasonAt)}`;
}

/** An SQL statement's text up to its first quoted value. */
function statementWithoutValues(statement: string): string {
  const firstValue = statement.indexOf("'");
  return firstValue === -1 ? statement : `${statement.slice(0, firstValue)}[values not logged]`;
}

/** Where MikroORM appends PostgreSQL's `detail` to a failed statement's message (PostgreSqlExceptionConverter). */
const DETAIL_IN_MESSAGE = '\n - detail: ';

/**
 * PostgreSQL's `detail` of an error without the row values it quotes: a constraint that fails
 * says `Failing row contains (<every column of the row>)` (a customer id, a shipping address,
 * notes), a unique or foreign key `Key (<columns>)=(<values>) …` (an idempotency key, an e-mail
 * in metadata). The columns and the reason stay, so the line still says what failed; any other
 * detail is left out whole, as it may quote a value just the same.
 */
export function withoutRowValues(detail: string): string {
  if (/^Failing row contains /.test(detail)) return 'Failing row contains ([values not logged]).';
  const key = /^(Key \(.*?\))=\(.*\)( [^()]*)$/s.exec(detail);
  if (key) return `${key[1]}=([values not logged])${key[2]}`;
  return '[detail not logged]';
}

/**
 * A failed statement's message as it may be logged: the statement up to its first value, the
 * reason without the value of a cast that failed (`invalid input syntax for type uuid: "<value>"`),
 * and the detail MikroORM appends without the row values it quotes. The detail is split off first:
 * its ` - ` must not be taken for the one between the statement and the reason.
 */
export function withoutQueryData(message: string): string {
  const detailAt = message.indexOf(DETAIL_IN_MESSAGE);
  const head = detailAt === -1 ? message : message.slice(0, detailAt);
  const tail = detailAt === -1 ? '' : `${DETAIL_IN_MESSAGE}${withoutRowValues(message.slice(detailAt + DETAIL_IN_MESSAGE.length))}`;
  return `${withoutStatementValues(head).replace(/(invalid input (?:syntax|value) for [^:\n]+): ".*"$/m, '$1: [value not logged]')}${tail}`;
}

/** `text` with the message of `error` and of each of its causes written without statement values or row values. */
function redactStatements(error: Error, text: string): string {
  let result = text;
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++, current = current.cause) {
    const redacted = withoutQueryData(current.message);
    if (redacted !== current.message) result = result.split(current.message).join(redacted);
  }
  return result;
}

/**
 * Errors are logged with their stack; a message that quotes a key (a bad URL, say) must not carry it
 * into the log, nor one that quotes a failed statement the values the request sent, nor
 * PostgreSQL's detail the row a constraint refused.
 */
function errorSerializer(error: Error): pino.SerializedError {
  const serialized = pino.stdSerializers.err(error);
  if (typeof serialized.message === 'string') serialized.message = redactKeys(redactStatements(error, serialized.message));
  if (typeof serialized.stack === 'string') serialized.stack = redactKeys(redactStatements(error, serialized.stack));
  // The embedded driver's errors also carry the statement and its bound values on their own.
  const fields = serialized as pino.SerializedError & { query?: unknown; params?: unknown };
  if (typeof fields.query === 'string') fields.query = statementWithoutValues(fields.query);
  if (Array.isArray(fields.params) && fields.params.length > 0) fields.params = `[${fields.params.length} values not logged]`;
  // PostgreSQL's own fields of the error: `detail` quotes the row or key, `where` and `internalQuery` the data of a cast.
  const postgres = serialized as pino.SerializedError & { detail?: unknown; where?: unknown; internalQuery?: unknown };
  if (typeof postgres.detail === 'string') postgres.detail = withoutRowValues(postgres.detail);
  if (typeof postgres.where === 'string') postgres.where = '[not logged]';
  if (typeof postgres.internalQuery === 'string') postgres.internalQuery = '[not logged]';
  return serialized;
}

/**
 * Where production lines go: stdout, asynchronously, so that a request never
 * waits for it, and in batches of at least `minLength` bytes (about a dozen
 * access lines), so that a busy server makes one write for many lines
 * instead of one for each: at 3,600–4,000 GETs a second those writes cost
 * 6–28 µs a request (three pairs of runs), more than pino takes to build the
 * line (about 5 µs). `periodicFlush` writes what a quiet server holds within
 * a quarter of a second. `main.ts` flushes before exiting, and pino flushes
 * at exit; a process killed with SIGKILL loses at most the lines of its last
 * quarter second.
 */
const STDOUT = { dest: 1, sync: false, minLength: 4096, periodicFlush: 250 } as const;

export function loggerOptions(config: Config, logStream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  const base = {
    level: config.logLevel,
    // Keys must never reach the log, whatever a serializer or a plugin decides to print.
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: errorSerializer },
  };
  if (logStream) return { ...base, stream: logStream };
  if (config.nodeEnv === 'development' && process.stdout.isTTY) {
    return {
      ...base,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } },
    };
  }
  return { ...base, stream: pino.destination(STDOUT) };
}
