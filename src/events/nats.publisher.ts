/**
 * Publishes events to NATS JetStream (events contract §3): stream `ORDERS`
 * (file storage) made when missing, subject `orders.<workspace_id>.<type>`,
 * and `Nats-Msg-Id: <event id>` so that JetStream drops a republished event
 * inside its duplicate window. The body is the structured event (the JSON
 * format), marked `Content-Type: application/cloudevents+json`, as the
 * CloudEvents NATS binding asks on a server with headers: a reader takes a
 * message without it for binary mode, and finds no `ce-*` headers.
 *
 * The connection is made lazily and kept: while the broker is unreachable a
 * publish fails (the event stays in the outbox and the relay retries it), and
 * nothing waits on NATS at start-up, so a broker outage never holds up the API.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type JetStreamClient,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import { traceHeadersOf } from '../observability/trace-context';
import { ORDER_EVENT_TYPES } from '../orders/order-events';
import type { CloudEvent } from './order-events';
import type { EventPublisher } from './publisher';

export interface NatsPublisherOptions {
  url: string;
  stream: string;
  /** The first subject token, `orders` by the contract. */
  subjectPrefix: string;
  /** How long one publish may wait for JetStream's acknowledgement. */
  timeoutMs: number;
  /** Where a lost and a regained connection are told (the relay's logger). */
  log?: Pick<FastifyBaseLogger, 'warn' | 'info'>;
}

/** JetStream's duplicate window: a republish within it (a relay that died mid-publish, a lease that ran out) is dropped. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** The CloudEvents JSON format's media type: the body is a structured event. */
const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';

export class NatsPublisher implements EventPublisher {
  readonly name = 'nats';
  private connection?: Promise<{ nc: NatsConnection; js: JetStreamClient }>;
  private streamReady = false;
  /** The stream check under way, shared by a start's prepare() and a publish that comes meanwhile. */
  private streamCheck?: Promise<void>;
  private closed = false;
  /** Whether a background loop is trying to make the stream ready (`keepPreparing`). */
  private preparing = false;
  /** Ends the background loop's wait at `close()`. */
  private readonly closing = new AbortController();

  constructor(private readonly options: NatsPublisherOptions) {}

  subject(event: Pick<CloudEvent, 'workspaceid' | 'type'>): string {
    return `${this.options.subjectPrefix}.${event.workspaceid}.${event.type}`;
  }

  /**
   * Connects and makes the stream when missing, so that consumers can be added before the first
   * event. Until that is done it keeps trying in the background (500 ms doubling to 5 s), and again
   * after every reconnect (see `watchConnection`): a gateway started while NATS was down,
   * or whose first attempt timed out, used to make the stream only at the next order change, and
   * until then a consumer could not be added ("stream not found"). Settles with the first attempt.
   */
  prepare(): Promise<void> {
    const first = this.ready().then(() => undefined);
    first.catch(() => void this.keepPreparing());
    return first;
  }

  async publish(event: CloudEvent, body: Uint8Array): Promise<void> {
    const js = await this.ready();
    try {
      const structured = headers();
      structured.set('Content-Type', STRUCTURED_CONTENT_TYPE);
      for (const [name, value] of Object.entries(traceHeadersOf(event))) structured.set(name, value);
      await js.publish(this.subject(event), body, {
        msgID: event.id,
        headers: structured,
        timeout: this.options.timeoutMs,
      });
    } catch (error) {
      // The stream may have been deleted, or the server restarted without its store: check it again next time.
      this.streamReady = false;
      throw error;
    }
  }

  /** The client, once the stream is known to take the gateway's subjects (checked once per connection). */
  private async ready(): Promise<JetStreamClient> {
    const { nc, js } = await this.connected();
    if (!this.streamReady) {
      this.streamCheck ??= (async () => {
        try {
          await this.ensureStream(await jetstreamManager(nc, { timeout: this.options.timeoutMs }));
        } finally {
          this.streamCheck = undefined;
        }
      })();
      await this.streamCheck;
      this.streamReady = true;
    }
    return js;
  }

  private connected(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    if (this.closed) return Promise.reject(new Error('The NATS publisher is closed'));
    this.connection ??= connect({
      servers: this.options.url,
      name: 'order-gateway',
      timeout: this.options.timeoutMs,
      // Once connected, stay connected: reconnect for ever, quickly.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    }).then(
      (nc) => {
        void this.watchConnection(nc);
        void nc.closed().then(() => {
          // Closed for good (not a reconnect): connect afresh on the next publish.
          this.connection = undefined;
          this.streamReady = false;
        });
        return { nc, js: jetstream(nc, { timeout: this.options.timeoutMs }) };
      },
      (error: unknown) => {
        this.connection = undefined;
        throw error;
      },
    );
    return this.connection;
  }

  /**
   * Tells the log when the connection is lost and when it is back, once each way however many
   * attempts the client makes in between: without it an operator learned of a broker outage only
   * from the first publish that failed, and a quiet gateway said nothing at all.
   *
   * After each reconnect, checks the stream again at once (making it when missing), as at a start.
   * The server may have come back without its store (no volume kept, or a new member), and then
   * the stream is gone: until an order changed, a consumer process that started meanwhile could not
   * add its consumer ("stream not found"), and the first publish waited out its whole timeout,
   * since the gateway's own subscription to the subjects keeps NATS from answering "no responders".
   * A check that fails here is made again by the next publish.
   */
  private async watchConnection(nc: NatsConnection): Promise<void> {
    let lost = false;
    for await (const status of nc.status()) {
      if (this.closed) continue;
      if (status.type === 'disconnect' && !lost) {
        lost = true;
        this.options.log?.warn(
          { server: status.server },
          'event relay: lost its NATS connection; events wait in the outbox while it reconnects',
        );
      }
      if (status.type !== 'reconnect') continue;
      if (lost) {
        lost = false;
        this.options.log?.info({ server: status.server }, 'event relay: NATS connection back; publishing the outbox');
      }
      this.streamReady = false;
      void this.keepPreparing();
    }
  }

  /** Tries to make the stream ready until it is, or the publisher closes; one loop at a time. */
  private async keepPreparing(): Promise<void> {
    if (this.preparing) return;
    this.preparing = true;
    try {
      for (let delay = 500; !this.closed && !this.streamReady; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.ready();
          return;
        } catch {
          // NATS unreachable, or the check timed out: try again after the wait.
        }
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => undefined);
      }
    } finally {
      this.preparing = false;
    }
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const subjects = [`${this.options.subjectPrefix}.>`];
    let taken: string[];
    try {
      taken = (await jsm.streams.info(this.options.stream)).config.subjects ?? [];
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await jsm.streams.add({
        name: this.options.stream,
        subjects,
        storage: StorageType.File,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
      return;
    }
    // A stream of that name made by someone else for other subjects: JetStream would store nothing, and
    // the client's error for it ("jetstream is not enabled", or a timeout) sends the operator the wrong way.
    const missing = ORDER_EVENT_TYPES.filter(
      (type) => !taken.some((pattern) => takesEveryWorkspace(pattern, this.options.subjectPrefix, type)),
    );
    if (missing.length > 0) {
      const names = missing
        .map((type) => `${this.options.subjectPrefix}.<workspace_id>.${type}`)
        .join(' and ');
      throw new Error(
        `the JetStream stream ${this.options.stream} does not take the subjects ${names} ` +
          `(it takes ${taken.join(', ') || 'none'}): add ${subjects[0]} to it, or set NATS_STREAM or NATS_SUBJECT_PREFIX`,
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    try {
      const { nc } = await connection;
      await nc.drain();
    } catch {
      // Never connected, or already gone.
    }
  }
}

/** Whether the stream subject `pattern` takes `<prefix>.<any workspace>.<type>`. */
export function takesEveryWorkspace(pattern: string, prefix: string, type: string): boolean {
  const wanted = [...prefix.split('.'), '*', ...type.split('.')];
  const tokens = pattern.split('.');
  for (const [i, token] of tokens.entries()) {
    // eslint-disable-next-line security/detect-possible-timing-attacks -- compares NATS subject tokens, not a secret
    if (token === '>') return i < wanted.length;
    if (i >= wanted.length) return false;
    // eslint-disable-next-line security/detect-possible-timing-attacks -- compares NATS subject tokens, not a secret
    if (token === '*') continue;
    // A literal token cannot take every workspace.
    if (wanted[i] === '*' || token !== wanted[i]) return false;
  }
  return tokens.length === wanted.length;
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}
