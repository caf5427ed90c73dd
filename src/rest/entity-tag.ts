/**
 * Entity tags of orders on the REST shim (RFC 9110 §8.8.3, §13.1). An order's tag is its version,
 * strong and quoted: `"3"`. It changes with every change that changed something, and only then, so
 * it names the order's state; the same tag is sent whatever the content coding (the answers are
 * `no-store`, and a client must be able to send back whichever it was given).
 */
import type { UpdateCondition } from '../orders/order.types';

export const entityTag = (version: number): string => `"${version}"`;

/** The version a strong tag of ours names, or undefined (a weak tag, another form, another server's tag). */
function versionOf(tag: string): number | undefined {
  const match = /^"([1-9][0-9]{0,9})"$/.exec(tag);
  return match ? Number(match[1]) : undefined;
}

/** The entity tags of an `If-Match` or `If-None-Match` field (`*`, or a comma-separated list). */
function tagsOf(field: string | string[]): string[] | '*' {
  const text = Array.isArray(field) ? field.join(', ') : field;
  if (text.trim() === '*') return '*';
  // An entity tag may hold a comma inside its quotes; ours never do, and one that does matches none of ours.
  return text.match(/(?:W\/)?"[^"]*"|[^,\s]+/g) ?? [];
}

/**
 * `If-Match` as the service's condition: strong comparison, so a weak tag (`W/"3"`) or a tag we never
 * gave out holds for no version. Undefined without the field.
 */
export function ifMatchCondition(field: string | string[] | undefined): UpdateCondition | undefined {
  if (field === undefined) return undefined;
  const tags = tagsOf(field);
  if (tags === '*') return { ifMatch: '*' };
  return { ifMatch: tags.map(versionOf).filter((version) => version !== undefined) };
}

/** `If-None-Match` by weak comparison (§13.1.2): true when it names the version (or is `*`). */
export function noneMatchHolds(field: string | string[] | undefined, version: number): boolean {
  if (field === undefined) return true;
  const tags = tagsOf(field);
  if (tags === '*') return false;
  return !tags.some((tag) => versionOf(tag.startsWith('W/') ? tag.slice(2) : tag) === version);
}
