/**
 * The one place where names change case. The contract (REST) names things in
 * snake_case, the service and GraphQL in camelCase; every translation between
 * them goes through `renameKeys`. Metadata belongs to the caller, so its keys
 * are never renamed, however deep.
 */

type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S;
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** Keys whose values are the caller's own and pass through untouched. */
const OPAQUE_KEYS = new Set(['metadata']);
type Opaque = 'metadata';

export type SnakeKeys<T> = T extends Date
  ? T
  : T extends readonly (infer U)[]
    ? SnakeKeys<U>[]
    : T extends object
      ? { [K in keyof T as K extends string ? SnakeCase<K> : K]: K extends Opaque ? T[K] : SnakeKeys<T[K]> }
      : T;

export type CamelKeys<T> = T extends Date
  ? T
  : T extends readonly (infer U)[]
    ? CamelKeys<U>[]
    : T extends object
      ? { [K in keyof T as K extends string ? CamelCase<K> : K]: K extends Opaque ? T[K] : CamelKeys<T[K]> }
      : T;

/** `postalCode` → `postal_code`. */
export function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** `postal_code` → `postalCode`. */
export function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function rename(value: unknown, renameKey: (name: string) => string): unknown {
  if (Array.isArray(value)) return value.map((entry) => rename(entry, renameKey));
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  // Own entries into a fresh object literal: a key such as `__proto__` stays an ordinary key.
  const entries: [string, unknown][] = [];
  for (const [key, entry] of Object.entries(value)) {
    if (entry === undefined) continue; // absent stays absent
    entries.push([renameKey(key), OPAQUE_KEYS.has(key) ? entry : rename(entry, renameKey)]);
  }
  return Object.fromEntries(entries);
}

/**
 * A deep copy of `value` with every key renamed to the other case, except
 * inside metadata. Keys whose value is `undefined` are left out; `null` stays.
 */
export function renameKeys<T>(value: T, to: 'snake'): SnakeKeys<T>;
export function renameKeys<T>(value: T, to: 'camel'): CamelKeys<T>;
export function renameKeys(value: unknown, to: 'snake' | 'camel'): unknown {
  return rename(value, to === 'snake' ? camelToSnake : snakeToCamel);
}
