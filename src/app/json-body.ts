/**
 * The JSON body parser for every route.
 *
 * `JSON.parse` turns `9.9999999999999999` into `10`, which would let a price
 * with too many decimals pass as a valid one: a silent rounding, and it turns
 * metadata's `12345678901234567890` into another number. Here a number that a
 * double holds exactly becomes a number as usual, and any other an
 * `ExactNumber` that keeps its literal (`shared/exact-json.ts`): metadata
 * keeps it as that number, the money rules read its text, integer fields
 * reject it. Both parsers make keys such as `__proto__` plain own properties,
 * never prototypes.
 *
 * A body may nest at most `MAX_JSON_DEPTH` arrays and objects deep. Nothing in
 * the API needs more, the parser is recursive, and a deeply nested value that
 * got as far as a jsonb column crashes the embedded database (PGlite runs out
 * of stack around 1,000 levels). Its number literals may be at most
 * `MAX_NUMBER_LITERAL_LENGTH` characters long. Both are checked in one pass
 * over the text before it is parsed.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';
import { parse } from 'lossless-json';
import { countMembers, parseExactJson, scanJsonText } from '../shared/exact-json';

export const MAX_JSON_DEPTH = 64;

/**
 * A number literal longer than this is refused before parsing: no amount,
 * quantity or limit needs more (an amount has at most 15 significant digits),
 * and turning a million digits into a number costs real CPU time.
 */
export const MAX_NUMBER_LITERAL_LENGTH = 64;

const emptyBody = () => new AppError(ErrorCode.INVALID_JSON, 'The request body is empty; send a JSON object');

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw emptyBody();
  const shape = scanJsonText(text, MAX_JSON_DEPTH);
  if (shape.tooDeep) {
    throw new AppError(
      ErrorCode.INVALID_JSON,
      `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
    );
  }
  if (shape.longestNumber > MAX_NUMBER_LITERAL_LENGTH) {
    throw new AppError(
      ErrorCode.INVALID_JSON,
      `The request body has a number longer than ${MAX_NUMBER_LITERAL_LENGTH} characters; no field takes one`,
    );
  }
  let value: unknown;
  try {
    value = parseExactJson(text, shape);
  } catch (error) {
    throw duplicateKey(error) ?? new AppError(ErrorCode.INVALID_JSON, 'The request body is not valid JSON');
  }
  // JSON.parse keeps the last of two members with one key and drops the other without a word; a
  // hand-edited body (a Postman raw body, whose editor flags it) has one more often than one thinks.
  if (countMembers(value) !== shape.members) {
    try {
      parse(text); // lossless-json names the key when the two values differ
    } catch (error) {
      throw duplicateKey(error) ?? error;
    }
    throw new AppError(
      ErrorCode.INVALID_JSON,
      'The request body gives a key twice in one object; give each key once',
    );
  }
  return value;
}

/** lossless-json's refusal of a key given twice with different values, as the API's error. */
function duplicateKey(error: unknown): AppError | undefined {
  if (!(error instanceof Error) || !error.message.startsWith('Duplicate key')) return undefined;
  return new AppError(
    ErrorCode.INVALID_JSON,
    `The request body gives a key twice in one object (${error.message}); give each key once`,
  );
}

/** UTF-8 is the only charset JSON has (RFC 8259 §8.1); a label naming another one is refused, not guessed at. */
const UTF8_LABEL = /^"?utf-?8"?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The `charset` parameter of a content type, if any. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*("[^"]*"|[^;\s]+)/i.exec(contentType ?? '');
  return match?.[1];
}

/** The body as text: a non-UTF-8 charset is 415, bytes that are not UTF-8 are 400, never U+FFFD stored in their place. */
export function decodeJsonBody(body: Buffer, contentType: string | undefined): string {
  const charset = charsetOf(contentType);
  if (charset !== undefined && !UTF8_LABEL.test(charset)) {
    throw new AppError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `Send the request body as UTF-8 JSON, not ${charset.replace(/[^\w.:-]/g, '')}`,
    );
  }
  try {
    return utf8.decode(body);
  } catch {
    throw new AppError(ErrorCode.INVALID_JSON, 'The request body is not valid UTF-8');
  }
}

/**
 * A `preValidation` hook for a route that reads a JSON body. A request with no
 * Content-Type and no body never reaches the parser above (Fastify hands the
 * route `undefined`), so it is refused here as the same empty body, not left
 * for the service to call a body that is not an object.
 */
export async function requireJsonBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) throw emptyBody();
}

/**
 * JSON is the only body this API reads: anything else is 415, never parsed as text.
 *
 * Fastify answers `Connection: close` to every body its parser refuses, in case the client is still
 * sending it. A body refused here was read to its end (the parser gets the whole buffer), so nothing
 * of it is left on the connection: closing only dropped the requests a client had pipelined behind
 * it, unanswered (undici sent them again on a new connection; a client that does not has lost
 * them), and cost every client a new connection. Such a refusal keeps the connection. A body refused unread or midway (413) still closes it (see lingering-close.ts).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const readWhole = new WeakSet<FastifyRequest>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(decodeJsonBody(body as Buffer, request.headers['content-type'])));
    } catch (error) {
      readWhole.add(request);
      done(error as Error, undefined);
    }
  });
  // Before the hooks that close on purpose (shutdown, a 100-continue never sent), which come later.
  // The headers Node writes on any kept connection (removing Fastify's header would send none).
  app.addHook('onSend', (request, reply, payload, done) => {
    if (readWhole.has(request) && request.raw.complete && reply.raw.shouldKeepAlive) {
      void reply.header('connection', 'keep-alive');
      void reply.header('keep-alive', `timeout=${Math.floor(app.server.keepAliveTimeout / 1000)}`);
    }
    done(null, payload);
  });
}
