/** Builds the whole app on a fresh database, as the server does, for tests that go through HTTP. */
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src/app/app';
import { loadConfig, type Config } from '../../src/config/config';
import { createTestDatabase } from './database';

export interface TestApp {
  app: App;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Creates a workspace (when missing) with a new key; returns the `Authorization` header value. */
  bearer(workspace?: string, timeZone?: string): Promise<string>;
  close(): Promise<void>;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  // Load shedding is off unless a test turns it on: on a busy test machine a lagging event
  // loop is the machine's doing, and a 503 would fail a test about something else.
  return { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info' }), maxEventLoopDelayMs: 0, ...overrides };
}

export async function createTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp({ config: testConfig(overrides), db: database.db, logStream });
  return {
    app,
    logs,
    async bearer(workspace = 'acme', timeZone = 'UTC') {
      if (!(await app.services.auth.findWorkspace(workspace))) await app.services.auth.createWorkspace(workspace, timeZone);
      const { key } = await app.services.auth.createApiKey(workspace);
      return `Bearer ${key}`;
    },
    async close() {
      await app.close();
      await database.destroy();
    },
  };
}
