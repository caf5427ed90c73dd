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
import Big from 'big.js';
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

/**
 * A number literal a double might not hold exactly has more than 15
 * significant digits, so it is at least 16 characters long, or it has an
 * exponent (`1e400` is beyond a double, `1e-400` below it). Bodies without
 * such a literal (nearly all) take the native parser, which is several times
 * faster; the rest take the lossless one.
 */
const MAYBE_INEXACT_LENGTH = 16;

export interface JsonTextShape {
  /** Arrays and objects nest deeper than the limit given. */
  tooDeep: boolean;
  /** Characters in the longest number literal (digits, sign, point, exponent) outside strings. */
  longestNumber: number;
  /** A number literal outside strings has an exponent (`1e21`). */
  hasExponent: boolean;
  /** Members of all objects (`:` outside strings): more than the parsed value holds means a key given twice. */
  members: number;
}

/**
 * One pass over the text, before any parsing: how deep it nests and how long
 * its longest number literal is. Brackets and digits inside strings do not count.
 */
export function scanJsonText(text: string, maxDepth: number): JsonTextShape {
  let depth = 0;
  let inString = false;
  let run = 0;
  let longestNumber = 0;
  let hasExponent = false;
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    // 0-9 + - . e E
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x65 || c === 0x45) {
      // An e after a digit or a point is an exponent; the e of `true` and `false` follows a letter.
      if ((c === 0x65 || c === 0x45) && run > 0) hasExponent = true;
      if (++run > longestNumber) longestNumber = run;
      continue;
    }
    run = 0;
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return { tooDeep: true, longestNumber, hasExponent, members };
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a) members++;
  }
  return { tooDeep: false, longestNumber, hasExponent, members };
}

/**
 * Parses JSON text, keeping numbers a double cannot hold as `ExactNumber`s.
 * Text without a literal that might be one (nearly all) takes `JSON.parse`,
 * several times faster than the lossless parser; `shape` is the caller's scan
 * of the same text, when it made one.
 */
export function parseExactJson(text: string, shape: JsonTextShape = scanJsonText(text, Infinity)): unknown {
  return shape.longestNumber >= MAYBE_INEXACT_LENGTH || shape.hasExponent
    ? parse(text, null, parseNumberLiteral)
    : JSON.parse(text);
}

/** How many members the objects of a parsed JSON value hold, all levels together (its depth is the caller's bound). */
export function countMembers(value: unknown): number {
  if (value === null || typeof value !== 'object' || isLosslessNumber(value)) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const entry of value as unknown[]) count += countMembers(entry);
    return count;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) count += 1 + countMembers(object[key]);
  return count;
}

/** `JSON.stringify`, except that `ExactNumber`s are written as the numbers they are. */
export function stringifyJson(value: unknown): string {
  const before = exactNumbersWritten;
  const text = JSON.stringify(value);
  if (exactNumbersWritten === before) return text;
  return stringify(value) as string;
}

/**
 * For writers that only take a `JSON.stringify` replacer (graphql-ws's messages): the replacer
 * writes each `ExactNumber` as a marked string, and `writeMarkedNumbers` turns every marked string
 * of the text back into the number it is. The mark starts with NUL, which no string the API
 * stores or answers can hold (PostgreSQL refuses it), so no caller's text is ever taken for one.
 */
const NUMBER_MARK = '\u0000exact-number:';
export function markExactNumbers(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown> | null)?.[key];
  return isLosslessNumber(raw) ? NUMBER_MARK + raw.value : value;
}
/**
 * A JSON number to be written exactly as spelled, trailing zeros included: an amount with its
 * currency's digits (`99.00`), which `JSON.stringify` of a number writes `99`. JSON.stringify
 * writes it marked, and `writeMarkedNumbers` turns the mark into the literal.
 */
export class NumberLiteral {
  constructor(readonly literal: string) {}
  toJSON(): string {
    return NUMBER_MARK + this.literal;
  }
}

/** In JSON text the mark's NUL is written `\u0000`; a literal is digits, sign, point and exponent. */
const MARKED_NUMBER = /(?<!\\)"\\u0000exact-number:([-+.0-9eE]+)"/g;
export function writeMarkedNumbers(text: string): string {
  return text.includes('\\u0000exact-number:') ? text.replace(MARKED_NUMBER, '$1') : text;
}

/** Whether an `ExactNumber` occurs anywhere in `value`. */
export function containsExactNumber(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (isLosslessNumber(value)) return true;
  if (Array.isArray(value)) return value.some(containsExactNumber);
  for (const key in value) {
    if (Object.hasOwn(value, key) && containsExactNumber((value as Record<string, unknown>)[key]))
      return true;
  }
  return false;
}

/** A deep copy of `value` with every `ExactNumber` as its literal string (for fields that take text or amounts). */
export function exactNumbersAsText(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isLosslessNumber(value)) return value.toString();
  if (Array.isArray(value)) return value.map(exactNumbersAsText);
  const entries: [string, unknown][] = Object.entries(value).map(([key, entry]) => [
    key,
    exactNumbersAsText(entry),
  ]);
  return Object.fromEntries(entries);
}

/**
 * Whether two JSON values say the same: objects whatever the order of their
 * keys (jsonb hands them back in its own order), arrays item by item, and
 * numbers by their exact value, `ExactNumber`s included (`1e21` is
 * `1000000000000000000000`; `12345678901234567891` is not
 * `12345678901234567890`, and neither is the string of those digits). A key
 * whose value is `undefined` is no key, as in JSON text.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return false;
  const aExact = a instanceof LosslessNumber;
  const bExact = b instanceof LosslessNumber;
  if (aExact || bExact) return isJsonNumber(a) && isJsonNumber(b) && exactValue(a).eq(exactValue(b));
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonEqual(item, b[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((key) => left[key] !== undefined);
  if (keys.length !== Object.keys(right).filter((key) => right[key] !== undefined).length) return false;
  // hasOwn: a key such as "__proto__" must be the object's own, never what it inherits.
  return keys.every((key) => Object.hasOwn(right, key) && jsonEqual(left[key], right[key]));
}

function isJsonNumber(value: unknown): value is number | LosslessNumber {
  return typeof value === 'number' || value instanceof LosslessNumber;
}

/** A number's exact decimal value: a double's is the shortest literal that reads back as it, as `JSON.stringify` writes it. */
function exactValue(value: number | LosslessNumber): Big {
  return new Big(typeof value === 'number' ? String(value) : value.toString());
}

// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
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
