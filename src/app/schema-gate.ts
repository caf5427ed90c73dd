/**
 * The schema gate: a server started with MIGRATE_ON_START=false on a database
 * that still has migrations to apply serves no API until they are applied.
 *
 * Without it, every request that reached a missing table was a 500 and the
 * relay, the webhook dispatcher and the idempotency sweeper logged a failure
 * with its stack every second. Now `/api` and `/graphql` (the WebSocket too)
 * answer 503 SERVICE_UNAVAILABLE with `Retry-After`, before authentication,
 * and the background work waits. `/readyz` says why (migrations pending), as
 * before, and probes, `/metrics` and the docs are answered as usual. The gate
 * asks the database again every few seconds: once `order-gateway migrate` has
 * run (from another process, on a PostgreSQL server), it opens by itself and
 * starts the background work, with no restart.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';
import { WakeableLoop } from '../events/wakeable-loop';
import { isApiRequest } from './route-url';

export interface SchemaGateOptions {
  /** The migrations pending when the server started (empty: the gate is open from the start). */
  pending: readonly string[];
  pendingMigrations: () => Promise<string[]>;
  graphqlPath: string;
  log: FastifyBaseLogger;
  checkIntervalMs?: number;
}

const RETRY_AFTER_SECONDS = 5;

export interface SchemaGate {
  /** Runs `start` once the schema is up to date: now if it is, else when the gate opens. */
  whenOpen(start: () => void): void;
  /** Stops the checks (waiting for one in flight); a gate still closed never runs `start`. */
  stop(): Promise<void>;
}

export function registerSchemaGate(app: FastifyInstance, options: SchemaGateOptions): SchemaGate {
  if (options.pending.length === 0) return { whenOpen: (start) => start(), stop: async () => undefined };
  let open = false;
  let onOpen: (() => void) | undefined;
  app.addHook('onRequest', (request, _reply, done) => {
    if (open || !isApiRequest(request, options.graphqlPath)) return done();
    // Passed on: each transport's error handler writes it (REST envelope or GraphQL response) with Retry-After.
    done(
      new AppError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'The database schema is not up to date (migrations pending: run `order-gateway migrate`); retry shortly',
        [],
        RETRY_AFTER_SECONDS,
      ),
    );
  });
  // Asked at once, then every checkIntervalMs, never two checks at a time (the relay's kind of loop).
  const checks = new WakeableLoop(
    async () => {
      if ((await options.pendingMigrations()).length > 0) return false;
      open = true;
      void checks.stop(); // not awaited: it waits for this very round
      options.log.info('migrations applied: serving the API');
      onOpen?.();
      return false;
    },
    options.checkIntervalMs ?? 2_000,
    (error, failuresNotLogged) => options.log.warn({ err: error, failuresNotLogged }, 'could not check for pending migrations'),
  );
  checks.start();
  return {
    whenOpen(start) {
      if (open) start();
      else onOpen = start;
    },
    async stop() {
      onOpen = undefined;
      await checks.stop();
    },
  };
}
