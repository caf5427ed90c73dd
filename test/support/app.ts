/**
 * Builds the whole app on a fresh database, as the server does, for tests
 * that go through HTTP. Most test files want `useTestApp()`: one app for the
 * file, with a key, and `rest`, `gql` and `db` to talk to it.
 */
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse as Response } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildApp, type App, type BuildAppOptions } from '../../src/app/app';
import { loadConfig, type Config } from '../../src/config/config';
import type { RequestContext } from '../../src/orders/order.types';
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

export async function createTestApp(
  overrides: Partial<Config> = {},
  options: Pick<BuildAppOptions, 'webhookLookup'> = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp({ config: testConfig(overrides), db: database.db, logStream, ...options });
  return {
    app,
    logs,
    async bearer(workspace = 'acme', timeZone = 'UTC') {
      if (!(await app.services.auth.findWorkspace(workspace)))
        await app.services.auth.createWorkspace(workspace, timeZone);
      const { key } = await app.services.auth.createApiKey(workspace);
      return `Bearer ${key}`;
    },
    async close() {
      await app.close();
      await database.destroy();
    },
  };
}

export interface RequestOptions {
  /** The `Authorization` header; the client's own key by default, `null` for none. */
  authorization?: string | null;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

export interface TestClient {
  readonly app: App;
  /** Every log line the app wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** `Bearer <key>` of the workspace `acme`, which every request carries unless told otherwise. */
  readonly auth: string;
  /** A key for another workspace (created when missing), as an `Authorization` value. */
  bearer(workspace?: string, timeZone?: string): Promise<string>;
  /** The service-level context of an `Authorization` value (the client's own by default). */
  context(authorization?: string): Promise<RequestContext>;
  rest: {
    get(url: string, options?: RequestOptions): Promise<Response>;
    /** A string body is sent as written (raw JSON text), anything else as its JSON. */
    post(url: string, body: unknown, options?: RequestOptions): Promise<Response>;
    put(url: string, body: unknown, options?: RequestOptions): Promise<Response>;
  };
  /** POSTs a GraphQL document to /graphql; read the answer with `.json()`. */
  gql(query: string, variables?: Record<string, unknown>, options?: RequestOptions): Promise<Response>;
  db: {
    query<T extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
    /** Rows of a table, optionally `where` a condition. */
    count(table: string, where?: string, params?: unknown[]): Promise<number>;
  };
}

/** Talks to an app built by `createTestApp`, with `authorization` on every request unless told otherwise. */
export function clientFor(testApp: () => TestApp, authorization: () => string): TestClient {
  const send = (options: InjectOptions, request: RequestOptions = {}) => {
    const auth = request.authorization === undefined ? authorization() : request.authorization;
    return testApp().app.http.inject({
      ...options,
      ...(request.remoteAddress ? { remoteAddress: request.remoteAddress } : {}),
      headers: {
        ...(auth === null ? {} : { authorization: auth }),
        ...(options.headers as Record<string, string>),
        ...request.headers,
      },
    });
  };
  const withBody = (method: 'POST' | 'PUT', url: string, body: unknown, options?: RequestOptions) =>
    // A string is sent as written (raw JSON text); anything else as its JSON.
    send(
      {
        method,
        url,
        headers: { 'content-type': 'application/json' },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      },
      options,
    );
  const db = () => testApp().app.db.em.fork();
  return {
    get app() {
      return testApp().app;
    },
    get logs() {
      return testApp().logs;
    },
    get auth() {
      return authorization();
    },
    bearer: (workspace, timeZone) => testApp().bearer(workspace, timeZone),
    context: (auth = authorization()) => testApp().app.services.auth.authenticate(auth),
    rest: {
      get: (url, options) => send({ method: 'GET', url }, options),
      post: (url, body, options) => withBody('POST', url, body, options),
      put: (url, body, options) => withBody('PUT', url, body, options),
    },
    gql: (query, variables = {}, options) => withBody('POST', '/graphql', { query, variables }, options),
    db: {
      query: <T extends object>(sql: string, params: unknown[] = []) => db().execute<T[]>(sql, params),
      count: async (table, where = 'true', params = []) => {
        const [row] = await db().execute<{ n: number }[]>(
          `select count(*)::int as n from ${table} where ${where}`,
          params,
        );
        return row?.n ?? 0;
      },
    },
  };
}

/**
 * One app for the test file: built before its tests, closed after them, with
 * a key for the workspace `acme` (in `timeZone`) on every request.
 */
export function useTestApp(
  overrides: Partial<Config> = {},
  workspace: { slug?: string; timeZone?: string } = {},
): TestClient {
  let testApp: TestApp | undefined;
  let authorization = '';
  beforeAll(async () => {
    testApp = await createTestApp(overrides);
    authorization = await testApp.bearer(workspace.slug ?? 'acme', workspace.timeZone ?? 'UTC');
  });
  afterAll(async () => {
    await testApp?.close();
  });
  return clientFor(
    () => {
      if (!testApp) throw new Error('useTestApp: the app exists only inside tests and hooks');
      return testApp;
    },
    () => authorization,
  );
}
