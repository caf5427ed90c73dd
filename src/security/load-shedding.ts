/**
 * Load shedding with @fastify/under-pressure: while the event loop lags
 * (its mean delay over a sample interval passes `maxEventLoopDelayMs`), `/api`
 * and `/graphql` requests are refused at once with 503 SERVICE_UNAVAILABLE
 * and `Retry-After`, before authentication or any other work, until the
 * process catches up. A refused request costs almost nothing, so a burst
 * that would slow every workspace's requests down is cut short instead.
 *
 * Probes and `/metrics` are always answered: a liveness probe must not fail
 * because the process is busy, and readiness speaks for the database.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';
import { isApiRequest } from '../app/route-url';

export interface LoadSheddingOptions {
  /** 0 turns shedding off. */
  maxEventLoopDelayMs: number;
  sampleIntervalMs: number;
  graphqlPath: string;
}

/** Long enough for a lagging process to work off its backlog. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Under overload every refused request would otherwise write its own warning, hundreds a second,
 * adding work to a process that has none to spare and flooding a log read at `warn`. The first
 * refusal warns at once, then at most one warning every this long, with the refusals not logged
 * since. (Each refusal still has its `request completed` line at `info`, with its request id.)
 */
const WARN_INTERVAL_MS = 10_000;

export async function registerLoadShedding(app: FastifyInstance, options: LoadSheddingOptions): Promise<void> {
  if (options.maxEventLoopDelayMs === 0) return;
  // under-pressure measures; the hook below decides, so that each transport answers in its own shape.
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    sampleInterval: options.sampleIntervalMs,
    pressureHandler: () => undefined,
  });
  // Building the app and opening the database keep the loop busy too: that is start-up, not
  // load. The first samples after it would shed a new process's first requests, so shedding
  // starts two sample intervals after the app is ready.
  let armedAt = Number.POSITIVE_INFINITY;
  app.addHook('onReady', async () => {
    armedAt = performance.now() + 2 * options.sampleIntervalMs;
  });
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let refusalsNotLogged = 0;
  app.addHook('onRequest', (request, _reply, done) => {
    if (performance.now() < armedAt || !app.isUnderPressure() || !isApiRequest(request, options.graphqlPath)) return done();
    const now = performance.now();
    if (now - lastWarnAt >= WARN_INTERVAL_MS) {
      lastWarnAt = now;
      request.log.warn(
        { eventLoopDelayMs: Math.round(app.memoryUsage().eventLoopDelay), refusalsNotLogged },
        'shedding load: the event loop lags',
      );
      refusalsNotLogged = 0;
    } else refusalsNotLogged++;
    // Passed on: each transport's error handler writes it (REST envelope or GraphQL response) with Retry-After.
    done(new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The server is overloaded; retry shortly', [], RETRY_AFTER_SECONDS));
  });
}
