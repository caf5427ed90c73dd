/**
 * `order-gateway serve`: read the configuration, open the database, migrate,
 * listen, and shut down cleanly on SIGTERM or SIGINT.
 *
 * A start that cannot succeed stops at once with one line naming the setting
 * (PORT, HOST, METRICS_PORT, DATABASE_URL, DATA_DIR) and everything it opened
 * closed, so the process exits non-zero instead of hanging.
 */
import 'reflect-metadata';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp, type App } from './app/app';
import { DEVELOPMENT_KEY_FILE, ensureDevelopmentKey, hasDevelopmentKeyFile } from './app/development-key';
import { applyHeapPolicy } from './app/heap-policy';
import { StartupError } from './cli/errors';
import { checkServeConfig, type Config } from './config/config';
import { databaseTarget, missingPoolerTimeouts, openDatabase, type Database } from './db/database';
import { DatabaseStartError, namingDatabaseErrors, safeUrl } from './db/database-errors';
import { describeMissingGrants, missingGrants } from './db/grants';

/** After SHUTDOWN_GRACE_MS, how long the rest of the shutdown (database, relay, webhooks) may take before the process exits 1. */
export const SHUTDOWN_AFTER_GRACE_MS = 2000;

/** Waits until buffered log lines are written (the production logger writes asynchronously). */
function flushed(log: FastifyBaseLogger): Promise<void> {
  const logger = log as FastifyBaseLogger & { flush?: (done: () => void) => void };
  return new Promise((resolve) => (logger.flush ? logger.flush(() => resolve()) : resolve()));
}

/** Why `listen` failed, naming the variable to change; undefined for anything unexpected. */
export function explainListenError(error: unknown, host: string, port: number, portVariable = 'PORT'): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return `${portVariable}=${port}: the port is already in use on ${host} (stop the other process, or choose another ${portVariable})`;
    case 'EACCES':
      return `${portVariable}=${port}: not allowed to listen on this port (ports below 1024 need privileges; choose another ${portVariable})`;
    case 'EADDRNOTAVAIL':
      return `HOST=${host}: not an address of this machine (use 127.0.0.1 for this machine only, 0.0.0.0 for every interface)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `HOST=${host}: not a known host name or address (use 127.0.0.1 for this machine only, 0.0.0.0 for every interface)`;
    default:
      return undefined;
  }
}

function databaseInWords(config: Config, db: Database): string {
  return db.kind === 'postgres' && config.databaseUrl
    ? `PostgreSQL at ${safeUrl(config.databaseUrl)}`
    : `embedded PostgreSQL in ${config.dataDir}`;
}

/** The development banner: where everything is, once. */
function banner(config: Config, db: Database, address: string, hasDevelopmentKey: boolean): string {
  const key = hasDevelopmentKey
    ? path.join(config.dataDir, DEVELOPMENT_KEY_FILE)
    : 'none on this database (make one: order-gateway apikey create --workspace default)';
  const rows: [string, string][] = [
    ['GraphQL', `${address}/graphql`],
    ...(config.playground ? ([['Playground', `${address}/graphql (open it in a browser)`]] as [string, string][]) : []),
    ['REST', `${address}/api/orders`],
    ['API docs', `${address}/docs`],
    ['Dev API key', key],
    ['Database', databaseInWords(config, db)],
  ];
  return `\norder-gateway is ready (NODE_ENV=development)\n${rows.map(([name, value]) => `  ${name.padEnd(12)} ${value}`).join('\n')}\n\n`;
}

export async function serve(config: Config): Promise<void> {
  checkServeConfig(config);
  applyHeapPolicy(config.heapGrowingPercent);
  const target = databaseTarget(config);
  const db = await namingDatabaseErrors(target, () => openDatabase(target));
  let app: App;
  let pending: string[] = [];
  try {
    await namingDatabaseErrors(target, async () => {
      if (config.migrateOnStart) await db.migrate();
      else {
        await db.checkSchemaKnown();
        pending = await db.pendingMigrations();
      }
    });
    const grants = await namingDatabaseErrors(target, () => missingGrants(db));
    if (grants) throw new DatabaseStartError(`DATABASE_URL (${safeUrl(config.databaseUrl ?? '')}): ${describeMissingGrants(grants)}`);
    app = await buildApp({ config, db, pendingMigrations: pending });
  } catch (error) {
    await db.close();
    throw error;
  }
  const log = app.http.log;
  const missingTimeouts = await missingPoolerTimeouts(db, target).catch(() => undefined);
  if (missingTimeouts) log.warn(missingTimeouts);
  if (pending.length > 0) {
    log.warn(
      { pendingMigrations: pending },
      `MIGRATE_ON_START=false and ${pending.length} migration(s) are pending: /readyz and the API answer 503 until \`order-gateway migrate\` applies them`,
    );
  }

  let address: string;
  try {
    address = await app.http.listen({ port: config.port, host: config.host, listenTextResolver: (at) => `listening on ${at}` });
  } catch (error) {
    await app.close();
    const explained = explainListenError(error, config.host, config.port);
    throw explained ? new StartupError(explained, { cause: error }) : error;
  }
  if (app.metricsServer) {
    try {
      const metricsAddress = await app.metricsServer.listen({ port: config.metricsPort ?? 0, host: config.host });
      log.info({ metricsAddress }, `metrics on ${metricsAddress}/metrics`);
    } catch (error) {
      await app.close();
      const explained = explainListenError(error, config.host, config.metricsPort ?? 0, 'METRICS_PORT');
      throw explained ? new StartupError(explained, { cause: error }) : error;
    }
  }
  // Only a newcomer's first start in development gets a key made and shown, and only once it
  // serves: a start that failed (a port in use) showed it above its error, and never again. Anywhere
  // else keys are made on purpose, with the CLI (`apikey create`), and never printed by the server.
  let hasDevelopmentKey = false;
  if (db.kind === 'embedded' && config.nodeEnv === 'development' && pending.length === 0) {
    const made = await ensureDevelopmentKey(app.services.auth, config.dataDir);
    const file = `${config.dataDir}/${DEVELOPMENT_KEY_FILE}`;
    if (made) {
      // Printed once, on purpose: this is the only time the secret is shown.
      process.stdout.write(
        made.notSaved === undefined
          ? `\nCreated workspace "default" with a development API key (also saved in ${file}):\n\n    ${made.key}\n`
          : `\nCreated workspace "default" with a development API key:\n\n    ${made.key}\n\n` +
              `(could not save it in ${file}: ${made.notSaved}; copy the key now, it is not shown again)\n`,
      );
      if (made.notSaved !== undefined) log.warn({ file }, `development key not saved in ${file}: ${made.notSaved}`);
    }
    hasDevelopmentKey = hasDevelopmentKeyFile(config.dataDir);
  }

  log.info({ database: db.kind, address }, `order-gateway started: GraphQL at ${address}/graphql, REST at ${address}/api`);
  if (config.nodeEnv === 'development') process.stdout.write(banner(config, db, address, hasDevelopmentKey));

  // A stray rejection is a bug to log, not a reason to drop every request in flight.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
  // An exception no code caught leaves the process in a state nothing vouches for: exit 1, as Node
  // would, but with the error on one JSON line (its stack inside, keys redacted) after the lines
  // still buffered, instead of Node's plain-text report on stderr that a log pipeline cannot read.
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    setTimeout(() => process.exit(1), 1000).unref();
    void flushed(log).then(() => process.exit(1));
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: no new connections, finishing requests in flight');
    const deadline = setTimeout(() => {
      log.warn({ graceMs: config.shutdownGraceMs }, 'requests still running after the grace period; closing their connections');
      app.http.server.closeAllConnections();
      // A request whose client is gone may still wait at the database (a lock, a slow statement:
      // up to DB_STATEMENT_TIMEOUT_MS), and the close waits for it; so do webhook attempts (up to
      // WEBHOOK_TIMEOUT_MS). The orchestrator would kill the process anyway: exit first, with the
      // log flushed. Uncommitted transactions roll back, and leased events and deliveries go to
      // another process when their lease ends.
      const last = setTimeout(() => {
        log.error(
          { graceMs: config.shutdownGraceMs, afterGraceMs: SHUTDOWN_AFTER_GRACE_MS },
          'shutdown did not finish within SHUTDOWN_GRACE_MS and 2 s; exiting without waiting for the rest',
        );
        void flushed(log).then(() => process.exit(1));
      }, SHUTDOWN_AFTER_GRACE_MS);
      last.unref();
    }, config.shutdownGraceMs);
    deadline.unref();
    app
      .close()
      // The last line: a log pipeline tells a stop that finished from a process that was killed.
      .then(() => log.info({ signal }, 'shut down cleanly; exiting 0'))
      .then(() => flushed(log))
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
