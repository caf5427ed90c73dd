/**
 * The JSON body parser for every route.
 *
 * `JSON.parse` turns `9.9999999999999999` into `10`, which would let a price
 * with too many decimals pass as a valid one: a silent rounding. Here a
 * number that a double holds exactly becomes a number as usual, and any other
 * keeps its exact literal as a string, so the money rules see what the
 * caller sent (and integer fields reject it). Keys such as `__proto__` stay
 * plain own properties.
 */
import type { FastifyInstance } from 'fastify';
import { isSafeNumber, parse } from 'lossless-json';
import { AppError, ErrorCode } from '../errors/app-error';

const parseNumber = (literal: string): number | string => (isSafeNumber(literal) ? Number(literal) : literal);

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new AppError(ErrorCode.INVALID_JSON, 'The request body is empty; send a JSON object');
  try {
    return parse(text, null, parseNumber);
  } catch {
    throw new AppError(ErrorCode.INVALID_JSON, 'The request body is not valid JSON');
  }
}

/** JSON is the only body this API reads: anything else is 415, never parsed as text. */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
