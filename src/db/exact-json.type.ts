/**
 * A jsonb column whose numbers survive the trip through Node exactly. The
 * `pg` driver would parse jsonb with `JSON.parse`, turning
 * `12345678901234567890` into another number; this type reads the column as
 * text and parses it losslessly, and writes `ExactNumber`s as the numbers
 * they are (see `shared/exact-json.ts`). Used for metadata, the caller's own
 * JSON.
 *
 * The value is written as a plain string literal, which PostgreSQL casts to the
 * jsonb column itself. No `convertToDatabaseValueSQL` (`?::jsonb`): MikroORM
 * wrote such a value into the SQL with each `?` of its text escaped as `\?`,
 * which is no JSON escape, so any text holding a `?` (notes "Gift? yes" under an
 * Idempotency-Key, a metadata value in an update) failed with a 500.
 */
import { Type } from '@mikro-orm/core';
import { parseExactJson, stringifyJson } from '../shared/exact-json';

export class ExactJsonType extends Type<object | null | undefined, string | null | undefined> {
  override convertToDatabaseValue(value: object | null | undefined): string | null | undefined {
    return value === null || value === undefined ? value : stringifyJson(value);
  }

  override convertToJSValue(value: unknown): object | null | undefined {
    if (value === null || value === undefined) return value;
    // Text from `convertToJSValueSQL`; an object only if a driver parsed it anyway.
    return typeof value === 'string' ? (parseExactJson(value) as object) : (value);
  }

  override convertToJSValueSQL(key: string): string {
    return `${key}::text`;
  }

  override getColumnType(): string {
    return 'jsonb';
  }

  /** Changes are found by comparing the written text. */
  override compareAsType(): string {
    return 'string';
  }

  override ensureComparable(): boolean {
    return true;
  }

  override get runtimeType(): string {
    return 'object';
  }
}
