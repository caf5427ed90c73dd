/**
 * Wires the events machinery of one process: the relay, its publishers (NATS
 * JetStream when `NATS_URL` is set), its wake-ups (LISTEN on a server; on
 * the embedded database the commits of this one process wake it directly),
 * and the webhook dispatcher, woken whenever published events made deliveries.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config';
import type { Database } from '../db/database';
import { NatsPublisher } from './nats.publisher';
import { OutboxStore } from './outbox.store';
import { listenForEvents } from './pg-wakeup';
import type { EventPublisher } from './publisher';
import { EventRelay, type RelayObserver } from './relay';
import type { Lookup } from '../webhooks/network-guard';
import { type AttemptResult, WebhookDispatcher } from '../webhooks/webhook.dispatcher';
import { WebhookStore } from '../webhooks/webhook.store';

export interface Events {
  relay: EventRelay;
  /** Delivers the webhooks the relay makes from published events. */
  webhooks: WebhookDispatcher;
  /** Events not yet published, in every process's outbox share (the database's count). */
  backlog(): Promise<number>;
  /** Seconds the oldest event not yet published has waited since its change (0 when none waits). */
  oldestEventAgeSeconds(): Promise<number>;
  /** Starts relaying (when EVENTS_RELAY is on). */
  start(): void;
  /** Stops relaying; pending events stay in the outbox for the next start. */
  stop(): Promise<void>;
}

export interface EventsOptions {
  observer?: RelayObserver;
  /** Hears the LISTEN connection come up (true) and get lost (false); on a server only. */
  onListening?: (listening: boolean) => void;
  onWebhookAttempt?: (result: AttemptResult) => void;
  /** Name resolution for webhook deliveries (tests give their own). */
  webhookLookup?: Lookup;
  /** Where a webhook attempt's time and `webhook-timestamp` come from: the database's clock (see database-clock.ts). */
  clock?: () => Date;
}

export function createEvents(
  config: Config,
  db: Database,
  log: FastifyBaseLogger,
  options: EventsOptions = {},
): Events {
  const publishers: EventPublisher[] = [];
  const relayLog = log.child({ component: 'event-relay' });
  if (config.natsUrl) {
    publishers.push(
      new NatsPublisher({
        url: config.natsUrl,
        stream: config.natsStream,
        subjectPrefix: config.natsSubjectPrefix,
        timeoutMs: config.natsPublishTimeoutMs,
        log: relayLog,
      }),
    );
  }
  const store = new OutboxStore(db.em);
  const relay: EventRelay = new EventRelay({
    store,
    publishers,
    log: relayLog,
    pollIntervalMs: config.eventsPollIntervalMs,
    observer: options.observer,
    clock: options.clock,
    // Deliveries are made when events are marked published; only then is there work for webhooks.
    onDeliveriesMade: () => webhooks.wake(),
  });
  const webhooks = new WebhookDispatcher({
    store: new WebhookStore(db.em),
    log: log.child({ component: 'webhooks' }),
    pollIntervalMs: config.eventsPollIntervalMs,
    retrySchedule: config.webhookRetrySchedule,
    timeoutMs: config.webhookTimeoutMs,
    allowPrivateNetworks: config.webhookAllowPrivateNetworks,
    lookup: options.webhookLookup,
    onAttempt: options.onWebhookAttempt,
    clock: options.clock,
  });
  let stopListening: (() => Promise<void>) | undefined;
  return {
    relay,
    webhooks,
    backlog: () => store.backlog(),
    oldestEventAgeSeconds: () => store.oldestAgeSeconds(),
    start() {
      if (!config.eventsRelay) return;
      relay.start();
      webhooks.start();
      // The stream exists from the start, not from the first event: a consumer can be added at once.
      for (const publisher of publishers)
        void publisher.prepare?.().catch((error: unknown) => {
          relayLog.warn(
            { err: error, publisher: publisher.name },
            'event relay: could not prepare the publisher at start; it keeps trying, and so does every publish',
          );
        });
      if (db.listenUrl) stopListening = listenForEvents(db.listenUrl, () => relay.wake(), relayLog, options.onListening);
      else if (db.kind === 'postgres')
        // Behind a transaction pooler with no direct URL (database.ts): this process's own commits
        // still wake it, other processes' only the poll does.
        relayLog.warn(
          `event relay: no LISTEN connection (DATABASE_POOL_MODE=transaction without DATABASE_DIRECT_URL): changes other processes commit are published at the next poll, within EVENTS_POLL_INTERVAL_MS (${config.eventsPollIntervalMs} ms); set DATABASE_DIRECT_URL to publish them at once`,
        );
    },
    async stop() {
      await stopListening?.();
      await relay.stop();
      await webhooks.stop();
    },
  };
}
