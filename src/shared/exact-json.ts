/**
 * JSON numbers that a double cannot hold, kept exactly.
 *
 * `JSON.parse` turns `12345678901234567890` into `12345678901234567000` and
 * `1E400` into `Infinity` (which `JSON.stringify` writes as `null`). The API
 * takes such numbers in metadata and must give them back as the same JSON
 * numbers. So the body parser reads any number literal that a double does not
 * hold exactly as an `ExactNumber` (lossless-json's `LosslessNumber`, which
 * keeps the literal), the database stores it as a jsonb number (PostgreSQL's
 * `numeric`, exact), it is read back as text, and the response is written
 * with lossless-json's `stringify`, which writes the literal as it is.
 *
 * Every other number stays a plain JS number, and every JSON text without an
 * exact number is parsed and written by the native `JSON` functions, which
 * are several times faster.
 */
import { isLosslessNumber, isSafeNumber, LosslessNumber, parse, stringify } from 'lossless-json';

let exactNumbersWritten = 0;

/**
 * A number literal kept as written. `JSON.stringify` writes it as a string
 * (never as `{"value": …}`) and counts it, so `stringifyJson` knows to write
 * the text again losslessly; lossless-json writes it as the number it is.
 */
export class ExactNumber extends LosslessNumber {
  toJSON(): string {
    exactNumbersWritten++;
    return this.value;
  }
}

export function isExactNumber(value: unknown): value is LosslessNumber {
  return isLosslessNumber(value);
}

/** A number literal as the API holds it: a JS number when a double holds it exactly, else an `ExactNumber`. */
export function parseNumberLiteral(literal: string): number | ExactNumber {
  return isSafeNumber(literal) ? Number(literal) : new ExactNumber(literal);
}

/** Parses JSON text, keeping numbers a double cannot hold as `ExactNumber`s. */
export function parseExactJson(text: string): unknown {
  return parse(text, null, parseNumberLiteral);
}

/** `JSON.stringify`, except that `ExactNumber`s are written as the numbers they are. */
export function stringifyJson(value: unknown): string {
  const before = exactNumbersWritten;
  const text = JSON.stringify(value);
  if (exactNumbersWritten === before) return text;
  return stringify(value) as string;
}

/** Whether an `ExactNumber` occurs anywhere in `value`. */
export function containsExactNumber(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (isLosslessNumber(value)) return true;
  if (Array.isArray(value)) return value.some(containsExactNumber);
  for (const key in value) {
    if (Object.hasOwn(value, key) && containsExactNumber((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** A deep copy of `value` with every `ExactNumber` as its literal string (for fields that take text or amounts). */
export function exactNumbersAsText(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isLosslessNumber(value)) return value.toString();
  if (Array.isArray(value)) return value.map(exactNumbersAsText);
  const entries: [string, unknown][] = Object.entries(value).map(([key, entry]) => [key, exactNumbersAsText(entry)]);
  return Object.fromEntries(entries);
}

const NUMBER_LITERAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * The literal as PostgreSQL's `numeric` (and so jsonb) writes it: no exponent,
 * the fraction's digits kept (`1e21` → `1000000000000000000000`, `1.0e-3` →
 * `0.0010`, `-0` → `0`). Undefined when the number would take more than
 * `maxLength` characters that way (`1e99999`), without ever building it.
 */
export function canonicalNumber(literal: string, maxLength: number): string | undefined {
  const match = NUMBER_LITERAL.exec(literal);
  if (!match) return undefined;
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  // The value is digits × 10^shift; PostgreSQL keeps max(0, -shift) fraction digits.
  const digits = (whole + fraction).replace(/^0+(?=\d)/, '');
  const shift = exponent - fraction.length;
  const isZero = /^0+$/.test(digits);
  if (!Number.isSafeInteger(exponent)) return undefined;
  if (shift >= 0) {
    if (isZero) return '0';
    if (digits.length + shift + sign.length > maxLength) return undefined;
    return `${sign}${digits}${'0'.repeat(shift)}`;
  }
  const scale = -shift;
  if (scale + 2 + sign.length > maxLength) return undefined;
  const padded = digits.padStart(scale + 1, '0');
  const integer = padded.slice(0, padded.length - scale).replace(/^0+(?=\d)/, '');
  const text = `${integer}.${padded.slice(padded.length - scale)}`;
  if (text.length + sign.length > maxLength) return undefined;
  return isZero ? text : `${sign}${text}`;
}
