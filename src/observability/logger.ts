/**
 * The pino options of the app: JSON lines, one per request plus errors, with
 * keys redacted wherever a serializer or plugin might print a header.
 * Development on a terminal gets pino-pretty's readable lines instead.
 */
import type { FastifyServerOptions } from 'fastify';
import pino from 'pino';
import type { Config } from '../config/config';

export const REDACTED_PATHS = ['req.headers.authorization', 'headers.authorization', 'authorization'];

export function loggerOptions(config: Config, logStream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  const base = {
    level: config.logLevel,
    // Keys must never reach the log, whatever a serializer or a plugin decides to print.
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (logStream) return { ...base, stream: logStream };
  if (config.nodeEnv === 'development' && process.stdout.isTTY) {
    return {
      ...base,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } },
    };
  }
  // Asynchronous writes: a request never waits for stdout. Lines written in one
  // turn of the event loop go out together; `main.ts` flushes before exiting.
  return { ...base, stream: pino.destination({ dest: 1, sync: false }) };
}
