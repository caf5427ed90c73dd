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

/**
 * Names are few (the contract's fields), and every response renames the same
 * ones, so each translation is remembered. The bound keeps a client that sends
 * many unknown keys from growing it.
 */
function remembered(translate: (name: string) => string): (name: string) => string {
  const known = new Map<string, string>();
  return (name) => {
    let translated = known.get(name);
    if (translated === undefined) {
      translated = translate(name);
      if (known.size < 1000) known.set(name, translated);
    }
    return translated;
  };
}

/** `postalCode` → `postal_code`. */
export const camelToSnake = remembered((name) =>
  name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
);

/** `postal_code` → `postalCode`. */
export const snakeToCamel = remembered((name) =>
  name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase()),
);

function rename(value: unknown, renameKey: (name: string) => string): unknown {
  if (Array.isArray(value)) return value.map((entry) => rename(entry, renameKey));
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  const renamed: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const entry = (value as Record<string, unknown>)[key];
    if (entry === undefined) continue; // absent stays absent
    const name = renameKey(key);
    const copy = OPAQUE_KEYS.has(key) ? entry : rename(entry, renameKey);
    // A key such as `__proto__` stays an ordinary key.
    if (name === '__proto__')
      Object.defineProperty(renamed, name, {
        value: copy,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else renamed[name] = copy;
  }
  return renamed;
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
