/**
 * More app instances for tests about what several gateway processes share:
 * rate-limit counters in Redis, and key revocation. Each instance is a whole
 * app with its own caches and counters, as a second process would have.
 */
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src/app/app';
import type { Config } from '../../src/config/config';
import { openDatabase, type Database } from '../../src/db/database';
import { testConfig } from './app';
import { createServerDatabase, usingRealPostgres } from './database';

export interface ExtraApp {
  app: App;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

function logCollector(): { logs: Record<string, unknown>[]; stream: Writable } {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logs, stream };
}

/**
 * Another app on the same database object (the embedded database has one
 * connection, so a second "process" shares it). Closing it leaves the
 * database open for its owner.
 */
export async function appOnSameDatabase(db: Database, overrides: Partial<Config> = {}): Promise<ExtraApp> {
  const { logs, stream } = logCollector();
  const shared: Database = { ...db, close: async () => undefined };
  const app = await buildApp({ config: testConfig(overrides), db: shared, logStream: stream });
  return { app, logs, close: () => app.close() };
}

export interface ServerPair {
  first: ExtraApp;
  second: ExtraApp;
  close(): Promise<void>;
}

/** Two apps with their own connection pools on one new database of the DATABASE_URL server (the second may be configured apart). */
export async function twoAppsOnServerDatabase(
  overrides: Partial<Config> = {},
  secondOverrides: Partial<Config> = overrides,
): Promise<ServerPair> {
  if (!usingRealPostgres) throw new Error('twoAppsOnServerDatabase needs DATABASE_URL');
  const server = await createServerDatabase();
  const target = { kind: 'postgres' as const, url: server.url, poolMax: 4, connectTimeoutMs: 2000, statementTimeoutMs: 10_000 };
  const open = async (config: Partial<Config>): Promise<ExtraApp> => {
    const db = await openDatabase(target);
    await db.migrate();
    const { logs, stream } = logCollector();
    const app = await buildApp({ config: testConfig(config), db, logStream: stream });
    return { app, logs, close: () => app.close() };
  };
  const first = await open(overrides);
  const second = await open(secondOverrides);
  return {
    first,
    second,
    async close() {
      await Promise.all([first.close(), second.close()]);
      await server.drop();
    },
  };
}
