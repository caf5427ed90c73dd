/**
 * `order-gateway serve`: read the configuration, open the database, migrate,
 * listen, and shut down cleanly on SIGTERM or SIGINT.
 */
import 'reflect-metadata';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp } from './app/app';
import { ensureDevelopmentKey } from './app/development-key';
import { checkServeConfig, type Config } from './config/config';
import { databaseTarget, openDatabase } from './db/database';

/** Waits until buffered log lines are written (the production logger writes asynchronously). */
function flushed(log: FastifyBaseLogger): Promise<void> {
  const logger = log as FastifyBaseLogger & { flush?: (done: () => void) => void };
  return new Promise((resolve) => (logger.flush ? logger.flush(() => resolve()) : resolve()));
}

export async function serve(config: Config): Promise<void> {
  checkServeConfig(config);
  const db = await openDatabase(databaseTarget(config));
  let app;
  try {
    if (config.migrateOnStart) await db.migrate();
    app = await buildApp({ config, db });
  } catch (error) {
    await db.close();
    throw error;
  }
  const log = app.http.log;

  // Only a newcomer's first start in development gets a key made and shown; anywhere else keys
  // are made on purpose, with the CLI (`apikey create`), and never printed by the server.
  if (db.kind === 'embedded' && config.nodeEnv === 'development') {
    const key = await ensureDevelopmentKey(app.services.auth, config.dataDir);
    if (key) {
      // Printed once, on purpose: this is the only time the secret is shown.
      process.stdout.write(
        `\nCreated workspace "default" with a development API key (also saved in ${config.dataDir}/development-key):\n\n    ${key}\n\n`,
      );
    }
  }

  // A stray rejection is a bug to log, not a reason to drop every request in flight.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: no new connections, finishing requests in flight');
    const deadline = setTimeout(() => {
      log.warn({ graceMs: config.shutdownGraceMs }, 'requests still running after the grace period; closing their connections');
      app.http.server.closeAllConnections();
    }, config.shutdownGraceMs);
    deadline.unref();
    app
      .close()
      .then(() => flushed(log))
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const address = await app.http.listen({ port: config.port, host: config.host });
  log.info({ database: db.kind, address }, `order-gateway listening on ${address} (GraphQL at ${address}/graphql)`);
  if (app.metricsServer) {
    const metricsAddress = await app.metricsServer.listen({ port: config.metricsPort ?? 0, host: config.host });
    log.info({ metricsAddress }, `metrics on ${metricsAddress}/metrics`);
  }
}
