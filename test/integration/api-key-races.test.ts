/**
 * Keys made from several processes at once (two operators, two deploy
 * scripts, the CLI beside the servers) on one PostgreSQL: each process is an
 * app with its own connection pool on the same database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingRealPostgres } from '../support/database';
import { twoAppsOnServerDatabase, type ServerPair } from '../support/more-apps';

describe.runIf(usingRealPostgres)('keys for a new workspace, made from two processes at once', () => {
  let pair: ServerPair;
  beforeAll(async () => {
    pair = await twoAppsOnServerDatabase();
  });
  afterAll(() => pair?.close());

  it('both get a key of the one workspace the first of them made', async () => {
    for (let round = 0; round < 5; round++) {
      const slug = `fresh-${round}`;
      const made = await Promise.allSettled([
        pair.first.app.services.auth.createApiKey(slug),
        pair.second.app.services.auth.createApiKey(slug),
      ]);
      expect(made.map((result) => result.status)).toStrictEqual(['fulfilled', 'fulfilled']);
      const keys = made.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      expect(keys.map((key) => key.workspace)).toStrictEqual([slug, slug]);
      // One of them made the workspace; the other found it made.
      expect(keys.filter((key) => key.workspaceCreated)).toHaveLength(1);
      expect(await pair.first.app.services.auth.listApiKeys(slug)).toHaveLength(2);
    }
  });
});
