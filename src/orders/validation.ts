/**
 * Checks shared by every request the service validates: JSON-schema errors
 * turned into field errors, text PostgreSQL cannot store, addresses and
 * metadata.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import countries from 'i18n-iso-countries';
import type { TSchema } from '@sinclair/typebox';
import type { FieldError, FieldPath } from '../errors/app-error';
import { renameKeys } from '../shared/case';
import { type AddressField, type AddressInput, LIMITS, NOT_BLANK } from './create-order.schema';
import type { Address, JsonObject } from './order.types';
import {
  canonicalNumber,
  containsExactNumber,
  ExactNumber,
  isExactNumber,
  parseNumberLiteral,
  stringifyJson,
} from '../shared/exact-json';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, coerceTypes: false });

/** Compiles a request schema; the returned function lists every shape error and unstorable string. */
export function shapeChecker(schema: TSchema): (input: unknown) => FieldError[] {
  const validate: ValidateFunction = ajv.compile(schema);
  return (input) => {
    const errors = validate(input) ? [] : (validate.errors ?? []).map(describeSchemaError);
    return [...errors, ...findUnstorableText(input, [])];
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isExactNumber(value);
}

/** Fields whose numbers are money: an exact literal is read as its text, digit by digit. */
const AMOUNT_FIELDS = new Set(['price', 'total', 'shipping', 'tax']);

/**
 * The request with its `ExactNumber`s (number literals a double cannot hold,
 * see `shared/exact-json.ts`) made ready for the shape rules: metadata keeps
 * them, amounts become their literal text (the money rules read it exactly),
 * and any other field gets the nearest double, so that a quantity of
 * `12345678901234567890` is "at most 1000000" and a name of `1e400` "a string".
 */
export function prepareExactNumbers(input: Record<string, unknown>): Record<string, unknown> {
  // Nearly every request has none: no copy then.
  if (!containsExactNumber(input)) return input;
  const walk = (value: unknown, key: string | number): unknown => {
    if (isExactNumber(value)) {
      const literal = value.toString();
      if (AMOUNT_FIELDS.has(String(key))) return literal;
      // The nearest double of 2.9999999999999999 is 3: a literal with a fraction must not
      // become a whole number and pass as a quantity (GraphQL's Int refuses it too). NaN is
      // "not an integer" to the shape rules, and "not a string" to any text field.
      return isWholeLiteral(literal) ? Number(literal) : Number.NaN;
    }
    if (Array.isArray(value)) return value.map((entry, index) => walk(entry, index));
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(Object.entries(value).map(([name, entry]) => [name, walk(entry, name)]));
  };
  return Object.fromEntries(
    Object.entries(input).map(([key, value]) => [
      key,
      key === 'metadata' && isObject(value) ? value : walk(value, key),
    ]),
  );
}

// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const NUMBER_LITERAL = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Whether a JSON number literal is a whole number as written (`3.000`, `1e2`), not only once rounded to a double. */
function isWholeLiteral(literal: string): boolean {
  const match = NUMBER_LITERAL.exec(literal);
  if (!match) return false;
  const whole = match[1] ?? '';
  const digits = whole + (match[2] ?? '');
  // Where the decimal point falls among the digits once the exponent has moved it.
  const point = whole.length + Number(match[3] ?? '0');
  return point >= digits.length || /^0*$/.test(digits.slice(Math.max(0, point)));
}

const COUNTRY_CODE = /^[A-Za-z]{2}$/;

export function checkCountry(address: unknown, path: FieldPath, errors: FieldError[]): void {
  if (!isObject(address) || typeof address.country !== 'string') return;
  // i18n-iso-countries also accepts alpha-3 and numeric codes; the contract wants alpha-2.
  if (!COUNTRY_CODE.test(address.country) || !countries.isValid(address.country)) {
    errors.push({
      path: [...path, 'country'],
      message: 'must be an ISO 3166-1 alpha-2 country code such as ID',
    });
  }
}

/** An address with no field set is no address at all. */
export function toAddress(input: AddressInput | null | undefined): Address | undefined {
  if (input === undefined || input === null) return undefined;
  const given = Object.entries(input).filter(
    (entry): entry is [AddressField, string] => typeof entry[1] === 'string',
  );
  if (given.length === 0) return undefined;
  const address: Address = renameKeys(Object.fromEntries(given), 'camel');
  if (address.country !== undefined) address.country = address.country.toUpperCase();
  return address;
}

/**
 * Checks metadata's limits, and returns it as it will be stored and answered:
 * each number a double cannot hold written as PostgreSQL writes it
 * (`1e21` → `1000000000000000000000`), and every object's keys in jsonb's
 * order, so that create, read and replay agree byte for byte.
 * The size limit counts that form.
 */
export function checkMetadata(metadata: unknown, errors: FieldError[]): JsonObject | undefined {
  if (!isObject(metadata)) return undefined;
  for (const key of Object.keys(metadata)) {
    if (key.length === 0) errors.push({ path: ['metadata'], message: 'must not have an empty key' });
    else if ([...key].length > LIMITS.metadataKeyLength) {
      errors.push({
        path: ['metadata', key],
        message: `key must be 1 to ${LIMITS.metadataKeyLength} characters`,
      });
    }
  }
  if (nestingDepth(metadata) > LIMITS.metadataDepth) {
    errors.push({
      path: ['metadata'],
      message: `must not nest objects and arrays more than ${LIMITS.metadataDepth} levels deep`,
    });
  }
  const stored = storedNumbers(metadata, ['metadata'], errors) as JsonObject;
  const bytes = Buffer.byteLength(stringifyJson(stored));
  if (bytes > LIMITS.metadataBytes) {
    errors.push({
      path: ['metadata'],
      message: `must be at most ${LIMITS.metadataBytes} bytes as JSON, got ${bytes}`,
    });
  }
  return stored;
}

/** A copy with every `ExactNumber` in PostgreSQL's form; one that would not fit the size limit that way is an error. */
function storedNumbers(value: unknown, path: FieldPath, errors: FieldError[]): unknown {
  if (isExactNumber(value)) {
    const canonical = canonicalNumber(value.toString(), LIMITS.metadataBytes);
    if (canonical === undefined) {
      errors.push({
        path,
        message: `must be a number of at most ${LIMITS.metadataBytes} digits when written without an exponent`,
      });
      return new ExactNumber('0');
    }
    return parseNumberLiteral(canonical);
  }
  if (Array.isArray(value))
    return value.map((entry, index) => storedNumbers(entry, [...path, index], errors));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => jsonbKeyOrder(a, b))
      .map(([key, entry]) => [key, storedNumbers(entry, [...path, key], errors)]),
  );
}

/**
 * jsonb's order of an object's keys: shorter first, in UTF-8 bytes, then by
 * bytes. Metadata is answered in this order from the start, so the create's
 * answer, an idempotent replay and a read (all from jsonb) are the same bytes.
 */
function jsonbKeyOrder(a: string, b: string): number {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length - right.length || Buffer.compare(left, right);
}

function nestingDepth(value: unknown): number {
  if (typeof value !== 'object' || value === null || isExactNumber(value)) return 0;
  let deepest = 0;
  for (const entry of Object.values(value)) deepest = Math.max(deepest, nestingDepth(entry));
  return deepest + 1;
}

/**
 * PostgreSQL cannot store U+0000 in text or jsonb, and a lone UTF-16
 * surrogate cannot be encoded as UTF-8 at all. Reject both up front rather
 * than fail (or silently alter the text) at insert time.
 */
export function findUnstorableText(
  value: unknown,
  path: (string | number)[],
  found: FieldError[] = [],
): FieldError[] {
  // Nearly every request has none: a walk that allocates nothing answers that, and only a
  // request with some is walked again to name their paths.
  if (!holdsUnstorableText(value)) return found;
  if (typeof value === 'string') {
    if (isUnstorable(value))
      found.push({ path, message: 'must not contain NUL characters or unpaired surrogates' });
  } else if (Array.isArray(value)) {
    value.forEach((entry, index) => findUnstorableText(entry, [...path, index], found));
  } else if (typeof value === 'object' && value !== null && !isExactNumber(value)) {
    for (const [key, entry] of Object.entries(value)) {
      if (isUnstorable(key))
        found.push({ path, message: 'has a key with NUL characters or unpaired surrogates' });
      findUnstorableText(entry, [...path, key], found);
    }
  }
  return found;
}

const isUnstorable = (text: string) => text.includes('\u0000') || !text.isWellFormed();

/** Whether any string or key in `value` is unstorable (see `findUnstorableText`); allocates nothing. */
function holdsUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return isUnstorable(value);
  if (typeof value !== 'object' || value === null || isExactNumber(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsUnstorableText(value[i])) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (isUnstorable(key) || holdsUnstorableText((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

function describeSchemaError(error: ErrorObject): FieldError {
  const path = pointerToPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const limit = String(params.limit);
  switch (error.keyword) {
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'is required' };
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: 'is not a known field' };
    case 'type':
      return { path, message: `must be ${describeType(params.type)}` };
    case 'minLength':
      return {
        path,
        message: params.limit === 1 ? 'must not be empty' : `must be at least ${limit} characters`,
      };
    case 'maxLength':
      return { path, message: `must be at most ${limit} characters` };
    case 'pattern':
      if (params.pattern === NOT_BLANK) return { path, message: 'must not be blank' };
      return { path, message: error.message ?? 'is invalid' };
    case 'minItems':
      return { path, message: `must have at least ${limit} item${params.limit === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path, message: `must have at most ${limit} items` };
    case 'maxProperties':
      return { path, message: `must have at most ${limit} keys` };
    case 'minimum':
      return { path, message: `must be at least ${limit}` };
    case 'maximum':
      return { path, message: `must be at most ${limit}` };
    case 'enum': {
      // Ajv's own words ("must be equal to one of the allowed values") leave the caller guessing;
      // the values are named, as the list's filters name theirs. `null` is allowed but is no value to pick.
      const values = (params.allowedValues as unknown[]).filter((value) => value !== null);
      return { path, message: `must be one of ${values.map(String).join(', ')}` };
    }
    default:
      return { path, message: error.message ?? 'is invalid' };
  }
}

function describeType(type: unknown): string {
  const names: Record<string, string> = {
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    object: 'an object',
    array: 'an array',
    null: 'null',
  };
  const list = (Array.isArray(type) ? type : [type]).map(String).filter((name) => name !== 'null');
  if (list.includes('number') && list.includes('string')) return 'a number or a decimal string';
  return list.map((name) => names[name] ?? name).join(' or ');
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** One entry per field: the first problem found with it (the schema's, when it has one). */
export function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = JSON.stringify(error.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
