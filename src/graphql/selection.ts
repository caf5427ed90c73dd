import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the query selects `field` on the value this resolver returns (directly, or through a
 * fragment spread or an inline fragment), so that a resolver can leave out work nobody reads, such
 * as the count behind `totalCount`. `@skip`/`@include` are not evaluated: a field they may leave
 * out counts as selected, and so does anything this cannot see (a fragment it cannot find).
 */
export function selectsField(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, field: string): boolean {
  const seen = new Set<string>();
  const within = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((selection) => {
      switch (selection.kind) {
        case Kind.FIELD:
          return selection.name.value === field;
        case Kind.INLINE_FRAGMENT:
          return within(selection.selectionSet);
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          if (seen.has(name)) return false;
          seen.add(name);
          const fragment = info.fragments?.[name];
          return fragment === undefined || within(fragment.selectionSet);
        }
      }
    });
  return info.fieldNodes.some((node) => within(node.selectionSet));
}
