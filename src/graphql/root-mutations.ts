/**
 * Each mutation of a GraphQL document counts against the key's rate limit as one request.
 *
 * The limit counts HTTP requests when they arrive (security/rate-limit.ts), and a document may
 * hold up to 16 `createOrder` fields (one plain, 15 aliased): sixteen orders for the price of one
 * request, 4,800 a minute where the contract says 300 requests. Once the operation is known and
 * has passed every limit, just before it runs, its further mutations are counted too, all or
 * none: past the limit the whole document is refused with RATE_LIMITED (429, Retry-After) and
 * none of its mutations runs, so nothing is written by halves. Queries keep counting as one
 * request: their work is bounded by the cost limit, and they write nothing.
 */
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { type DocumentNode, Kind, type OperationDefinitionNode, OperationTypeNode, type SelectionSetNode } from 'graphql';
import type { GraphQLContext } from './context';

/**
 * The root fields a mutation operation runs: its distinct response names (a name given twice
 * runs once), through inline fragments and fragment spreads, `__typename` left out. A field
 * under `@skip` or `@include` counts as if it ran.
 */
export function rootMutationCount(document: DocumentNode, operation: OperationDefinitionNode | undefined): number {
  // No operation: none by that name, or several and no name; graphql-js answers that.
  if (operation?.operation !== OperationTypeNode.MUTATION) return 0;
  // Apollo keeps one parsed document per query text, so an operation node comes back on every
  // request of that text: its count is worked out once (a Map and two Sets per create otherwise).
  let count = counted.get(operation);
  if (count === undefined) {
    count = countRootMutations(document, operation);
    counted.set(operation, count);
  }
  return count;
}

const counted = new WeakMap<OperationDefinitionNode, number>();

function countRootMutations(document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
    ),
  );
  const names = new Set<string>();
  const seen = new Set<string>();
  const collect = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') names.add((selection.alias ?? selection.name).value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return names.size;
}

/** The gateway's executor, counting a mutation document's further mutations before it runs them. */
export function countingRootMutations(gateway: GatewayInterface): GatewayInterface {
  return {
    ...gateway,
    async load(options) {
      const loaded = await gateway.load(options);
      const run = loaded.executor;
      if (!run) return loaded;
      return {
        ...loaded,
        executor(requestContext) {
          const operation = requestContext.operation as OperationDefinitionNode | undefined;
          const more = rootMutationCount(requestContext.document, operation) - 1;
          const { countMoreRequests } = requestContext.context as GraphQLContext;
          // A document of one mutation, or a query, runs as it came: no promise of this wrapper's own.
          if (more <= 0 || !countMoreRequests) return run(requestContext);
          return countMoreRequests(more).then((refusal) => {
            // Thrown before anything runs: Apollo answers it as a request error, 429 with Retry-After.
            if (refusal) throw refusal;
            return run(requestContext);
          });
        },
      };
    },
  };
}
