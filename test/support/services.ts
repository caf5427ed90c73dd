/**
 * Optional services some tests need (Redis for the shared rate-limit
 * counters, NATS for the event relay). The global set-up asks once per run whether each answers and
 * hands the answer to the tests (`inject('redis')`); the tests that need one
 * skip with a visible reason when it does not. CI sets REQUIRE_SERVICES=1,
 * which turns that skip into a failure: there the services run (`.ci/run`
 * starts them), so a skip would hide a broken set-up.
 */
import net from 'node:net';

/**
 * True when a server at `url` (default port `port`) answers within
 * `timeoutMs` with a first chunk that `isAnswer` accepts; `hello` is sent on
 * connecting, for servers that speak only when spoken to.
 */
function answersOnTcp(
  url: string,
  port: number,
  isAnswer: (firstChunk: string) => boolean,
  hello?: string | Buffer,
  timeoutMs = 1000,
): Promise<boolean> {
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const socket = net.connect({ host: parsed.hostname, port: Number(parsed.port || port) });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    if (hello) socket.on('connect', () => socket.write(hello));
    socket.on('data', (chunk) => done(isAnswer(chunk.toString())));
  });
}

/** True when a Redis server at `url` answers PING: +PONG, or -NOAUTH from a server with a password. */
export const redisAnswers = (url: string, timeoutMs?: number) =>
  answersOnTcp(url, 6379, (reply) => /^[+-]/.test(reply), 'PING\r\n', timeoutMs);

export interface Availability {
  up: boolean;
  /** Why the tests are skipped, for the describe title and the log; empty when `up`. */
  reason: string;
}

/**
 * Whether the tests that need a service can run. When it does not answer,
 * prints the reason once (visible in the test output), or throws when
 * REQUIRE_SERVICES=1 (CI).
 */
export async function optionalService(
  name: string,
  url: string,
  answers: (url: string) => Promise<boolean>,
): Promise<Availability> {
  if (await answers(url)) return { up: true, reason: '' };
  const reason = `skipped: no ${name} answers at ${url} (start one, or set the URL variable; CI runs these)`;
  if (process.env.REQUIRE_SERVICES === '1')
    throw new Error(`REQUIRE_SERVICES=1 but no ${name} answers at ${url}`);
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

/** The Redis the rate-limit tests use. */
export const REDIS_URL = () => process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** The NATS (with JetStream) the event tests publish to, with streams of their own. */
export const SHARED_NATS_URL = process.env.NATS_TEST_URL || 'nats://127.0.0.1:4222';

/** True when a NATS server at `url` greets a connection (`INFO {…}`). */
export const natsAnswers = (url: string, timeoutMs?: number) =>
  answersOnTcp(url, 4222, (greeting) => greeting.startsWith('INFO '), undefined, timeoutMs);

/**
 * The PostgreSQL server the database-fault tests break databases of their own on: DATABASE_URL's
 * in the PostgreSQL pass, the machine's in the embedded one.
 */
export const POSTGRES_SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** PostgreSQL's SSLRequest: a server answers it with one byte, `S` or `N`, before any authentication. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** True when a PostgreSQL server at `url` answers an SSLRequest. */
export const postgresAnswers = (url: string, timeoutMs?: number) =>
  answersOnTcp(url, 5432, (reply) => reply === 'S' || reply === 'N', SSL_REQUEST, timeoutMs);

declare module 'vitest' {
  export interface ProvidedContext {
    redis: Availability;
    nats: Availability;
    postgres: Availability;
  }
}
