/**
 * The relay (events contract §2), one in every gateway process: it takes
 * pending events from the outbox, hands each to every publisher (NATS
 * JetStream when configured), marks it published, and then tells in-process
 * subscribers. Each order's events go out one at a time in `sequence` order
 * (see `outbox.store.ts`); different orders' events go out in parallel.
 *
 * It runs when woken (a commit in this process, a NOTIFY from another one)
 * and every `pollIntervalMs` besides, which also retries failed publishes
 * after their backoff. A create made in this process hands its event over
 * (`publishCommitted`): the create leased the event's queue row to this
 * process, so the relay publishes it from memory, and a round with only such
 * events skips the claim. Its leased row is marked like any other; if the
 * process dies first, the lease runs out and any relay claims the event.
 * Nothing it does can fail a request: its errors are logged and retried, and
 * `/readyz` never looks at it.
 */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { OutboxStore, ClaimedEvent } from './outbox.store';
import { toCloudEvent, type CloudEvent, type StoredEvent } from './order-events';
import { WakeableLoop } from './wakeable-loop';
import { stringifyJson } from '../shared/exact-json';
import type { EventPublisher } from './publisher';

export interface RelayObserver {
  /** An event was published, `latencySeconds` after its change. */
  published(event: CloudEvent, latencySeconds: number): void;
  publishFailed(publisher: string): void;
}

export interface RelayOptions {
  store: OutboxStore;
  publishers: EventPublisher[];
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>;
  /** How often the relay looks for work without being woken (also when retries fall due). */
  pollIntervalMs: number;
  /** Events claimed per round. */
  batchSize?: number;
  /**
   * Events committed by this process that the relay keeps in memory to publish without a claim
   * (10 × `batchSize`, 2,000 by default). Past it, an event's lease is given up at once and a claim
   * takes it from the outbox, as it takes other processes' events (see `publishCommitted`).
   */
  maxHandedOver?: number;
  /**
   * Now, to measure an event's publish latency from its `time` (the database's clock): the
   * database's clock as this process reads it (see database-clock.ts), so that a process whose
   * own clock is off does not report minutes of latency, or less than none. The process's clock when absent.
   */
  clock?: () => Date;
  /** How long a claim lasts before another relay may take the event over. */
  leaseMs?: number;
  /** The longest wait before a failed publish is tried again (backoff doubles up to it, with jitter). */
  maxRetryDelayMs?: number;
  /** How long after a wake its round starts, so that the commits of a busy moment share one round (20 ms). */
  batchDelayMs?: number;
  observer?: RelayObserver;
  /** After this many events taken off the queue, the relay vacuums it (see `OutboxStore.vacuumQueue`); 5,000. */
  queueVacuumEvery?: number;
  /** Called after a round whose published events made webhook deliveries. */
  onDeliveriesMade?: () => void;
}

export type PublishedListener = (event: CloudEvent) => void;

export class EventRelay {
  private readonly emitter = new EventEmitter();
  private readonly batchSize: number;
  private readonly maxHandedOver: number;
  readonly leaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly loop: WakeableLoop;
  private readonly encoder = new TextEncoder();
  private readonly queueVacuumEvery: number;
  private removedSinceVacuum = 0;
  /** Events committed by this process and leased to this relay, not yet published. */
  private handedOver: ClaimedEvent[] = [];
  /**
   * Events every publisher took whose queue rows could not be deleted (the
   * database failed): the next round deletes them before anything else, and
   * they are never published again by this relay. Publishing them again
   * while the database is away would store them in the stream a second time
   * once the broker's duplicate window (2 minutes) has passed.
   */
  private unmarked: { position: string; event: CloudEvent }[] = [];
  /** Whether the next round claims: a wake or the poll asked for it (at the start too). */
  private claimAsked = true;
  private stopped = false;

  constructor(private readonly options: RelayOptions) {
    this.batchSize = options.batchSize ?? 200;
    this.maxHandedOver = options.maxHandedOver ?? 10 * this.batchSize;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
    this.queueVacuumEvery = options.queueVacuumEvery ?? 5000;
    // Subscribers are other features of this process (GraphQL subscriptions, webhooks); there may be many.
    this.emitter.setMaxListeners(0);
    this.loop = new WakeableLoop(
      async (polled) => {
        if (polled) this.claimAsked = true;
        const { claimed, published } = await this.round();
        // A full batch that went out: there may be more waiting, so the next round claims again at
        // once (a backlog drains at the database's and broker's pace, not one batch per poll). One
        // that all failed waits for the poll: the broker is down, and claiming on would only lease
        // and give back the whole backlog, batch after batch.
        const more = claimed === this.batchSize && published > 0;
        if (more) this.claimAsked = true;
        return more || this.handedOver.length > 0;
      },
      options.pollIntervalMs,
      (error, failuresNotLogged) =>
        options.log.warn({ err: error, failuresNotLogged }, 'event relay: the outbox could not be read; will retry'),
      options.batchDelayMs ?? 20,
    );
  }

  /**
   * The in-process hook: `listener` gets every event this process's relay
   * publishes, after it is marked published, in per-order `sequence` order.
   * (Events published by other processes reach them through NATS.) Returns
   * an unsubscribe function. A listener that throws is logged and ignored.
   */
  subscribe(listener: PublishedListener): () => void {
    this.emitter.on('published', listener);
    return () => this.emitter.off('published', listener);
  }

  /** Events handed over by this process's creates and not yet published (at most `maxHandedOver`). */
  get handedOverCount(): number {
    return this.handedOver.length;
  }

  start(): void {
    this.stopped = false;
    this.loop.start();
  }

  /** Asks for a round that claims, now; rounds never overlap, and wakes during one cause one more. */
  wake(): void {
    this.claimAsked = true;
    this.loop.wake();
  }

  /**
   * An event this process committed with its queue row leased to this relay
   * (`leaseMs`): the next round publishes it as it is, with no claim.
   */
  publishCommitted(event: StoredEvent): void {
    // After `stop` (a commit that outran the shutdown): give the lease up at once, for any relay.
    if (this.stopped) void this.giveUp([event.position]);
    else if (this.handedOver.length >= this.maxHandedOver) {
      // The broker is slow or away (each round waits for its publish timeout) while creates go on:
      // kept here, every event of the outage stayed in memory, order data and all, without bound.
      // The outbox holds it already; a claim takes it once the rounds catch up.
      this.claimAsked = true;
      void this.giveUp([event.position]);
    } else {
      this.handedOver.push({ ...event, attempts: 0 });
      this.loop.wake();
    }
  }

  /**
   * Stops the timer and waits for the round in flight. What is left stays in
   * the outbox for the next start; the leases of events handed over and not
   * yet published are given up, so that no relay waits for them to run out,
   * and so is the lease of any event handed over after it.
   */
  async stop(): Promise<void> {
    await this.loop.stop();
    this.stopped = true;
    // Published but still queued: taken off the queue if the database is back, else free for any relay.
    const unmarked = this.unmarked.splice(0).map(({ position }) => position);
    await this.options.store.markPublished(unmarked).catch(() => this.giveUp(unmarked));
    await this.giveUp(this.handedOver.splice(0).map((event) => event.position));
    await Promise.all(this.options.publishers.map((publisher) => publisher.close().catch(() => undefined)));
  }

  /** Ends this relay's leases on these events, so that any relay may claim them at once. */
  private async giveUp(positions: string[]): Promise<void> {
    await this.options.store
      .unlease(positions)
      .catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'event relay: could not give up its leases'),
      );
  }

  /** Publishes until no event is claimable (tests and benchmarks); returns how many were published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      this.claimAsked = true;
      const { published } = await this.round();
      if (published === 0) return total;
      total += published;
    }
  }

  /**
   * Takes the events handed over and, when a wake or the poll asked for it,
   * claims up to `batchSize` orders' pending events (see
   * `OutboxStore.claim`); publishes each order's in `sequence` order (orders
   * in parallel), stopping an order at its first failure, and marks what went
   * out. `claimed` counts the orders claimed.
   */
  private async round(): Promise<{ claimed: number; published: number }> {
    const handed = this.handedOver.splice(0, this.batchSize);
    try {
      const marked = await this.markUnmarked();
      const claimed = this.claimAsked ? await this.claim(handed) : [];
      const round = await this.publishAndMark([...handed, ...claimed], claimed);
      return { ...round, published: round.published + marked };
    } catch (error) {
      // The database failed us: claim, and publish what did not go out, with the next round. What went out
      // waits in `unmarked` to be taken off the queue, and is not published again.
      this.claimAsked = true;
      const published = new Set(this.unmarked.map(({ position }) => position));
      this.handedOver.unshift(...handed.filter((event) => !published.has(event.position)));
      throw error;
    }
  }

  /** Takes off the queue what went out in an earlier round whose marking failed, then tells the subscribers. */
  private async markUnmarked(): Promise<number> {
    if (this.unmarked.length === 0) return 0;
    const marked = this.unmarked;
    const deliveries = await this.options.store.markPublished(marked.map(({ position }) => position));
    this.unmarked = this.unmarked.filter((entry) => !marked.includes(entry));
    this.published(marked.map(({ event }) => event), deliveries);
    return marked.length;
  }

  /** Tells the observer, webhooks and subscribers of events taken off the queue. */
  private published(done: readonly CloudEvent[], deliveries: number): void {
    if (deliveries > 0) this.options.onDeliveriesMade?.();
    const now = this.options.clock?.().getTime() ?? Date.now();
    for (const cloudEvent of done) {
      this.options.observer?.published(cloudEvent, (now - Date.parse(cloudEvent.time)) / 1000);
      this.notify(cloudEvent);
    }
  }

  private async publishAndMark(
    events: readonly ClaimedEvent[],
    claimed: readonly ClaimedEvent[],
  ): Promise<{ claimed: number; published: number }> {
    if (events.length === 0) return { claimed: 0, published: 0 };
    const published =
      this.options.publishers.length === 0 ? this.nothingToPublish(events) : await this.publishEach(events);
    const went = events.flatMap((event) => {
      const cloudEvent = published.get(event.position);
      return cloudEvent ? [{ position: event.position, event: cloudEvent }] : [];
    });
    const done = went.map(({ event }) => event);
    let deliveries: number;
    try {
      deliveries = await this.options.store.markPublished(went.map(({ position }) => position));
    } catch (error) {
      this.unmarked.push(...went);
      throw error;
    }
    this.published(done, deliveries);
    // After the subscribers heard, so that the vacuum never delays them.
    this.removedSinceVacuum += done.length;
    if (this.removedSinceVacuum >= this.queueVacuumEvery) {
      this.removedSinceVacuum = 0;
      await this.options.store
        .vacuumQueue()
        .catch((error: unknown) =>
          this.options.log.warn({ err: error }, 'event relay: could not vacuum the queue'),
        );
    }
    return { claimed: new Set(claimed.map((event) => event.orderId)).size, published: done.length };
  }

  /**
   * Publishes each order's events in `sequence` order, orders in parallel;
   * the rest of a failed order's events wait behind it, and go out with it on
   * a later round. Returns what went out, by position.
   */
  private async publishEach(events: readonly ClaimedEvent[]): Promise<Map<string, CloudEvent>> {
    const byOrder = new Map<string, ClaimedEvent[]>();
    for (const event of events) byOrder.set(event.orderId, [...(byOrder.get(event.orderId) ?? []), event]);
    const published = new Map<string, CloudEvent>();
    await Promise.all(
      [...byOrder.values()].map(async (chain) => {
        for (const event of chain) {
          const cloudEvent = toCloudEvent(event);
          if (!(await this.publish(event, cloudEvent))) return;
          published.set(event.position, cloudEvent);
        }
      }),
    );
    return published;
  }

  /**
   * With no broker configured, every event "goes out" at once: it is marked
   * published, and webhooks and subscribers take it from there. Synchronous:
   * the promises of a chain per order and a publish per event, for nothing,
   * were 4 of the 6.4 that an event added to a create (`npm run bench:layers`).
   */
  private nothingToPublish(events: readonly ClaimedEvent[]): Map<string, CloudEvent> {
    return new Map(events.map((event) => [event.position, toCloudEvent(event)]));
  }

  /** The claimable events, less any also handed over (its lease ran out before this round). */
  private async claim(handed: readonly ClaimedEvent[]): Promise<ClaimedEvent[]> {
    this.claimAsked = false;
    const claimed = await this.options.store.claim(this.batchSize, this.leaseMs);
    if (handed.length === 0 && this.unmarked.length === 0) return claimed;
    // Also less any that went out already and wait to be taken off the queue (their lease ran out meanwhile).
    const positions = new Set([...handed.map((event) => event.position), ...this.unmarked.map(({ position }) => position)]);
    return claimed.filter((event) => !positions.has(event.position));
  }

  /** Every publisher, in turn; true when all took it, false after giving the event back for a retry. */
  private async publish(event: ClaimedEvent, cloudEvent: CloudEvent): Promise<boolean> {
    // stringifyJson: metadata's numbers beyond a double leave as the numbers they are (shared/exact-json.ts).
    const body = this.encoder.encode(stringifyJson(cloudEvent));
    for (const publisher of this.options.publishers) {
      try {
        await publisher.publish(cloudEvent, body);
      } catch (error) {
        this.options.observer?.publishFailed(publisher.name);
        const message = `${publisher.name}: ${error instanceof Error ? error.message : String(error)}`;
        if (event.attempts === 0)
          this.options.log.warn({ err: error, eventId: event.id }, 'event relay: publish failed; will retry');
        await this.options.store
          .release(event.position, message, this.retryDelay(event.attempts))
          .catch(() => undefined);
        return false;
      }
    }
    return true;
  }

  /** Exponential from 250 ms, capped, with "equal jitter" so that many processes do not retry in step. */
  private retryDelay(attempts: number): number {
    const ceiling = Math.min(this.maxRetryDelayMs, 250 * 2 ** Math.min(attempts, 20));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private notify(event: CloudEvent): void {
    for (const listener of this.emitter.listeners('published') as PublishedListener[]) {
      try {
        listener(event);
      } catch (error) {
        this.options.log.error({ err: error, eventId: event.id }, 'event relay: a subscriber threw');
      }
    }
  }
}
