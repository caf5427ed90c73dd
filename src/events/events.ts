/**
 * Wires the events machinery of one process: the relay, its publishers (NATS
 * JetStream when `NATS_URL` is set) and its wake-ups (LISTEN on a server;
 * on the embedded database the commits of this one process wake it directly).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config';
import type { Database } from '../db/database';
import { NatsPublisher } from './nats.publisher';
import { OutboxStore } from './outbox.store';
import { listenForEvents } from './pg-wakeup';
import type { EventPublisher } from './publisher';
import { EventRelay, type RelayObserver } from './relay';

export interface Events {
  relay: EventRelay;
  /** Starts relaying (when EVENTS_RELAY is on). */
  start(): void;
  /** Stops relaying; pending events stay in the outbox for the next start. */
  stop(): Promise<void>;
}

export function createEvents(config: Config, db: Database, log: FastifyBaseLogger, observer?: RelayObserver): Events {
  const publishers: EventPublisher[] = [];
  if (config.natsUrl) {
    publishers.push(
      new NatsPublisher({
        url: config.natsUrl,
        stream: config.natsStream,
        subjectPrefix: config.natsSubjectPrefix,
        timeoutMs: config.natsPublishTimeoutMs,
      }),
    );
  }
  const relayLog = log.child({ component: 'event-relay' });
  const relay = new EventRelay({
    store: new OutboxStore(db.em),
    publishers,
    log: relayLog,
    pollIntervalMs: config.eventsPollIntervalMs,
    observer,
  });
  let stopListening: (() => Promise<void>) | undefined;
  return {
    relay,
    start() {
      if (!config.eventsRelay) return;
      relay.start();
      if (db.url) stopListening = listenForEvents(db.url, () => relay.wake(), relayLog);
    },
    async stop() {
      await stopListening?.();
      await relay.stop();
    },
  };
}
