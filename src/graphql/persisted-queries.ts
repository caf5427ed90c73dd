/**
 * Automatic Persisted Queries (APQ) are Apollo Server's own: a client sends
 * `extensions.persistedQuery = { version: 1, sha256Hash }`, alone (the server
 * answers PERSISTED_QUERY_NOT_FOUND until it knows the hash) or with the full
 * text, which registers it. Apollo looks a hash up whatever it is, so a
 * `sha256Hash` that is missing, not a string or not a SHA-256 in lower-case
 * hex was a miss: the client's link then sent the full text and got "provided
 * sha does not match query", two round trips to learn its hash is malformed.
 * Such a request is refused at once with 400 BAD_REQUEST (Apollo's code for
 * its other APQ refusals: a wrong hash, an unknown version), saying what a
 * hash must look like (server.ts).
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { InMemoryLRUCache, type KeyValueCache, type KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';

/** A SHA-256 written as Apollo's links and Apollo Server write it. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Why the request's persisted-query hash cannot name any query, or undefined when it can (or there is none). */
export function malformedPersistedQueryHash(
  extensions: Record<string, unknown> | undefined,
): string | undefined {
  const persistedQuery = extensions?.persistedQuery;
  // Apollo itself answers anything but an object of version 1 (400 "Unsupported persisted query version").
  if (typeof persistedQuery !== 'object' || persistedQuery === null) return undefined;
  const { version, sha256Hash } = persistedQuery as { version?: unknown; sha256Hash?: unknown };
  if (version !== 1) return undefined;
  if (typeof sha256Hash === 'string' && SHA256_HEX.test(sha256Hash)) return undefined;
  return 'extensions.persistedQuery.sha256Hash must be the SHA-256 of the query text in lower-case hex (64 characters 0-9a-f)';
}

/**
 * The request's `extensions`, as Apollo will read them: the `extensions` search parameter of a GET
 * (JSON text), the `extensions` member of a POST body. Anything Apollo refuses itself (JSON that
 * does not parse, not an object) is undefined here, and left to Apollo's own 400.
 */
function requestExtensions(
  method: string,
  query: unknown,
  body: unknown,
): Record<string, unknown> | undefined {
  let extensions: unknown;
  if (method === 'POST') extensions = (body as { extensions?: unknown } | null | undefined)?.extensions;
  else {
    const text = (query as { extensions?: unknown } | null | undefined)?.extensions;
    if (typeof text !== 'string') return undefined;
    try {
      extensions = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  return typeof extensions === 'object' && extensions !== null && !Array.isArray(extensions)
    ? (extensions as Record<string, unknown>)
    : undefined;
}

/** Why the persisted-query hash of a GraphQL HTTP request (method, search parameters, body) is malformed, if it is. */
export function malformedPersistedQuery(method: string, query: unknown, body: unknown): string | undefined {
  return malformedPersistedQueryHash(requestExtensions(method, query, body));
}

/**
 * The workspace of the GraphQL request being served, for the persisted-query cache: set around
 * Apollo's handling of each HTTP request (server.ts), so that the cache below sees it on every
 * lookup and registration Apollo makes for that request.
 */
export const persistedQueryWorkspace = new AsyncLocalStorage<string>();

/**
 * Apollo's APQ cache, kept per workspace. One bounded LRU (Apollo's default, 30 MiB of query text)
 * holds every workspace's queries, each under `<workspace id>:<hash>`, so a hash one workspace
 * registered is unknown to every other: before, the cache was shared, and a key holder of another
 * workspace could send a guessed text's hash alone and learn from the answer (a result, or
 * PERSISTED_QUERY_NOT_FOUND) whether anyone had sent that text, literal values and all. Outside a
 * request (no workspace) nothing is found and nothing is kept.
 */
export class WorkspacePersistedQueryCache implements KeyValueCache<string> {
  constructor(private readonly cache: KeyValueCache<string> = new InMemoryLRUCache<string>()) {}

  private scoped(key: string): string | undefined {
    const workspace = persistedQueryWorkspace.getStore();
    return workspace ? `${workspace}:${key}` : undefined;
  }

  async get(key: string): Promise<string | undefined> {
    const scoped = this.scoped(key);
    return scoped === undefined ? undefined : this.cache.get(scoped);
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const scoped = this.scoped(key);
    if (scoped !== undefined) await this.cache.set(scoped, value, options);
  }

  async delete(key: string): Promise<boolean | void> {
    const scoped = this.scoped(key);
    if (scoped !== undefined) return this.cache.delete(scoped);
  }
}
