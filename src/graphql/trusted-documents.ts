/**
 * Trusted documents (an operation allowlist): with GRAPHQL_TRUSTED_DOCUMENTS naming a persisted
 * query manifest in Apollo's format (`npx generate-persisted-query-manifest` writes one from a
 * client's code), the GraphQL endpoint runs only the documents of that list, over HTTP and over
 * WebSocket alike:
 * - a document sent as its text runs when the SHA-256 of that text is one of the list's
 *   documents; any other text is refused with PERSISTED_QUERY_NOT_IN_LIST before it is parsed;
 * - a document sent as `extensions.persistedQuery.sha256Hash` alone runs when the hash is an `id`
 *   of the list (Apollo's APQ lookup finds it there); any other hash is Apollo's
 *   PERSISTED_QUERY_NOT_FOUND, after which a client's link sends the text, checked as above;
 * - nothing is registered: the list is the whole of what runs;
 * - while INTROSPECTION is on, a document that only asks `__schema`/`__type`/`__typename` runs too
 *   (the playground's schema), as it would without the list.
 * Without the variable nothing changes. This is the transport's gate only: no business rule here.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { GraphQLError, Kind, OperationTypeNode, parse } from 'graphql';
import { ConfigError } from '../config/config';

/** The code of a document the list does not hold (Apollo Router's for its safelist). */
export const PERSISTED_QUERY_NOT_IN_LIST = 'PERSISTED_QUERY_NOT_IN_LIST';

/** What a client is told when its document is not on the list. */
export const NOT_IN_LIST_MESSAGE =
  'This operation is not in the list of trusted documents this gateway runs (GRAPHQL_TRUSTED_DOCUMENTS): ' +
  "send one of the list's operations, as its text or as extensions.persistedQuery.sha256Hash";

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class TrustedDocuments {
  /** The document of each `id` of the manifest. */
  private readonly byId = new Map<string, string>();
  /** The SHA-256 of each document's text. */
  private readonly hashes = new Set<string>();

  constructor(
    operations: readonly { id: string; body: string }[],
    /** Whether an introspection-only document runs without being listed (INTROSPECTION). */
    private readonly introspection: boolean,
  ) {
    for (const { id, body } of operations) {
      this.byId.set(id, body);
      this.hashes.add(sha256(body));
    }
  }

  /** The listed document of a persisted-query id, or undefined. */
  documentOf(id: string): string | undefined {
    return this.byId.get(id);
  }

  /** Whether a document sent as text may run. */
  allows(text: string): boolean {
    return this.hashes.has(sha256(text)) || (this.introspection && isIntrospectionOnly(text));
  }

  /**
   * Apollo's APQ cache, answered from the list: a listed id is a hit, any other a miss, and
   * nothing is ever stored (Apollo registers every text it runs with a hash).
   */
  persistedQueryCache(): KeyValueCache<string> {
    return {
      // Apollo prefixes each key with `apq:` (APQ_CACHE_PREFIX).
      get: async (key) => this.documentOf(key.startsWith('apq:') ? key.slice(4) : key),
      set: async () => {},
      delete: async () => false,
    };
  }
}

/**
 * Whether a GraphQL HTTP request sends a document as text that the list does not allow: the
 * `query` of a POST body, or of a GET's search string read as Apollo reads it (URLSearchParams, the
 * first `query`). A request without text (a hash alone, or nothing) is left to Apollo.
 */
export function untrustedText(trusted: TrustedDocuments, method: string, search: string, body: unknown): boolean {
  const text =
    method === 'POST'
      ? (body as { query?: unknown } | null | undefined)?.query
      : new URLSearchParams(search).get('query');
  return typeof text === 'string' && text !== '' && !trusted.allows(text);
}

/** The `extensions.persistedQuery.sha256Hash` of a request, or '' (no id). */
export function persistedQueryHash(extensions: Record<string, unknown> | null | undefined): string {
  const persistedQuery = extensions?.persistedQuery as { sha256Hash?: unknown } | null | undefined;
  return typeof persistedQuery?.sha256Hash === 'string' ? persistedQuery.sha256Hash : '';
}

/** A refusal of a document not on the list, for a transport to send. */
export function notInListError(): GraphQLError {
  return new GraphQLError(NOT_IN_LIST_MESSAGE, { extensions: { code: PERSISTED_QUERY_NOT_IN_LIST } });
}

/**
 * A document that asks only introspection: every operation a query of root fields `__schema`,
 * `__type` or `__typename`, and every fragment on an introspection type (`__Type`, … as GraphiQL's
 * introspection query has them). Below such a root field only introspection types are reachable.
 */
function isIntrospectionOnly(text: string): boolean {
  try {
    return parse(text, { noLocation: true }).definitions.every((definition) => {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) return definition.typeCondition.name.value.startsWith('__');
      return (
        definition.kind === Kind.OPERATION_DEFINITION &&
        definition.operation === OperationTypeNode.QUERY &&
        definition.selectionSet.selections.every(
          (selection) => selection.kind === Kind.FIELD && selection.name.value.startsWith('__'),
        )
      );
    });
  } catch {
    return false;
  }
}

/** Reads a persisted query manifest (Apollo's format, version 1); throws a ConfigError saying what is wrong. */
export function loadTrustedDocuments(file: string, introspection: boolean): TrustedDocuments {
  const fail = (why: string) => new ConfigError(`GRAPHQL_TRUSTED_DOCUMENTS (${file}) ${why}`);
  let manifest: unknown;
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (GRAPHQL_TRUSTED_DOCUMENTS), never from a request
    manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw fail(`cannot be read as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { format, version, operations } = (manifest ?? {}) as Record<string, unknown>;
  if (format !== 'apollo-persisted-query-manifest' || version !== 1)
    throw fail('is not a persisted query manifest: it needs "format": "apollo-persisted-query-manifest" and "version": 1');
  if (!Array.isArray(operations))
    throw fail('has no "operations" list');
  const listed = operations.map((operation: unknown, index) => {
    const { id, body } = (operation ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || id === '' || typeof body !== 'string' || body === '')
      throw fail(`operations[${index}] needs a non-empty string "id" and "body"`);
    return { id, body };
  });
  return new TrustedDocuments(listed, introspection);
}
