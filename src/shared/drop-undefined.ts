/** Removes keys whose value is `undefined`, so that absent optional fields stay absent in every representation. */
export function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}
