/**
 * Automatic persisted queries and workspaces: a hash registered by one workspace's client is
 * that workspace's. Before, the cache was one for every workspace, so a key holder of another
 * workspace could send a guessed query text's hash alone and learn from the answer (a result, or
 * PERSISTED_QUERY_NOT_FOUND) whether anyone had sent that text, and the literal values in it.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const persisted = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });

describe('persisted queries are kept per workspace', () => {
  it("another workspace's hash alone is PERSISTED_QUERY_NOT_FOUND, as a hash nobody registered; the workspace that registered it gets its result", async () => {
    const other = await t.bearer('apq-other');
    const query = '{ orders(filter: {customerId: "vip-customer-4711"}) { totalCount } }';
    const hash = sha256(query);
    // The caller's own workspace registers the text (as Apollo Client's link does after a miss).
    const registered = await t.rest.post('/graphql', { query, ...persisted(hash) });
    expect(registered.json()).toStrictEqual({ data: { orders: { totalCount: 0 } } });
    const own = await t.rest.post('/graphql', persisted(hash));
    expect(own.json()).toStrictEqual({ data: { orders: { totalCount: 0 } } });

    const foreign = await t.rest.post('/graphql', persisted(hash), { authorization: other });
    const unknown = await t.rest.post('/graphql', persisted(sha256('{ orders { totalCount } } # nobody')), {
      authorization: other,
    });
    expect(foreign.statusCode).toBe(unknown.statusCode);
    expect(foreign.json()).toStrictEqual(unknown.json());
    expect(foreign.json()).toStrictEqual({
      errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }],
    });

    // The other workspace registers the same text for itself, and both keep theirs.
    await t.rest.post('/graphql', { query, ...persisted(hash) }, { authorization: other });
    expect((await t.rest.post('/graphql', persisted(hash), { authorization: other })).json()).toStrictEqual({
      data: { orders: { totalCount: 0 } },
    });
    expect((await t.rest.post('/graphql', persisted(hash))).json()).toStrictEqual({
      data: { orders: { totalCount: 0 } },
    });
  });
});
