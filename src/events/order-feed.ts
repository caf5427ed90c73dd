/**
 * Live order changes for GraphQL subscriptions (events contract §5): the
 * published events, per workspace, as the service's `Order` values.
 *
 * Fed by the relay's in-process hook, or, when NATS is configured, by a
 * core NATS subscription to every event subject, so that a change made
 * through any gateway process reaches the subscribers of every process (the
 * relay that publishes an event may run in another process). Never both, so
 * no event arrives twice.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import { formatStoredAmount } from '../orders/money';
import type { Order, OrderStatus } from '../orders/order.types';
import { renameKeys } from '../shared/case';
import { parseExactJson } from '../shared/exact-json';
import type { CloudEvent } from './order-events';
import { SubscriberTooSlowError } from './subscriber-too-slow';

export { SubscriberTooSlowError };

export interface FeedEvent {
  type: CloudEvent['type'];
  workspaceId: string;
  orderId: string;
  /** The order's version after the change. */
  sequence: number;
  /** The order as it was right after the change. */
  order: Order;
}

type Listener = (event: FeedEvent) => void;

/** Events a subscriber may have queued before it is cut off (a client that does not read). */
const MAX_QUEUED = 1000;

/** Orders whose latest version a subscriber remembers (see the constructor). */
const REMEMBERED_ORDERS = 10_000;

export class OrderFeed {
  private readonly byWorkspace = new Map<string, Set<Listener>>();

  private readonly rememberedOrders: number;

  constructor(
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
    options: {
      /**
       * Orders whose latest version each subscriber remembers, to drop a repeated or stale event
       * (10,000): the most recently changed ones, so that a subscription open for weeks does not
       * keep an entry for every order its workspace ever changed.
       */
      rememberedOrders?: number;
    } = {},
  ) {
    this.rememberedOrders = options.rememberedOrders ?? REMEMBERED_ORDERS;
  }

  /** Whether anyone in this process listens to `workspaceId`'s events. */
  listensTo(workspaceId: string): boolean {
    return this.byWorkspace.has(workspaceId);
  }

  /** The subscriptions open on `workspaceId`'s events in this process. */
  listening(workspaceId: string): number {
    return this.byWorkspace.get(workspaceId)?.size ?? 0;
  }

  /** The subscriptions open in this process, every workspace's (the `graphql_subscriptions` gauge). */
  get size(): number {
    let open = 0;
    for (const listeners of this.byWorkspace.values()) open += listeners.size;
    return open;
  }

  /** A published event, in the shape the relay publishes. */
  receive(event: CloudEvent): void {
    const listeners = this.byWorkspace.get(event.workspaceid);
    if (!listeners || listeners.size === 0) return;
    let feedEvent: FeedEvent;
    try {
      const data = event.data as { order: Record<string, unknown> };
      feedEvent = {
        type: event.type,
        workspaceId: event.workspaceid,
        orderId: event.subject,
        sequence: Number(event.sequence),
        // The REST order's times are to the second; the event's `time` is its updated_at to the millisecond,
        // as GraphQL's DateTime gives it everywhere else (order(id), the mutation's answer).
        order: { ...orderFromRest(data.order, Number(event.sequence)), updatedAt: new Date(event.time) },
      };
    } catch (error) {
      this.log.warn({ err: error, eventId: event.id }, 'order feed: an event could not be read');
      return;
    }
    for (const listener of listeners) listener(feedEvent);
  }

  /**
   * The orders of `workspaceId`'s events that `accept` takes, as an async
   * iterator (what a GraphQL subscription resolver returns). Each order's
   * versions arrive in order; a repeated or stale one is dropped. Ending the
   * iterator (`return()`) unsubscribes.
   */
  iterate(workspaceId: string, accept: (event: FeedEvent) => boolean): AsyncIterableIterator<Order> {
    const queue: Order[] = [];
    const waiting: ((result: IteratorResult<Order>) => void)[] = [];
    const latest = new Map<string, number>();
    let done = false;
    /** Cut off for not reading; thrown once the queue is read. */
    let tooSlow: SubscriberTooSlowError | undefined;
    const listener: Listener = (event) => {
      if (done || !accept(event)) return;
      if ((latest.get(event.orderId) ?? 0) >= event.sequence) return;
      // Most recently changed last; the least recently changed order is forgotten past the bound.
      latest.delete(event.orderId);
      latest.set(event.orderId, event.sequence);
      if (latest.size > this.rememberedOrders) latest.delete(latest.keys().next().value as string);
      const resolve = waiting.shift();
      if (resolve) resolve({ value: event.order, done: false });
      else if (queue.length < MAX_QUEUED) queue.push(event.order);
      else {
        tooSlow = new SubscriberTooSlowError(queue.length);
        void finish();
      }
    };
    const unsubscribe = this.subscribe(workspaceId, listener);
    const finish = (): Promise<IteratorResult<Order>> => {
      if (!done) {
        done = true;
        unsubscribe();
        for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
      }
      return Promise.resolve({ value: undefined, done: true });
    };
    return {
      next: () => {
        const value = queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (tooSlow) {
          const error = tooSlow;
          tooSlow = undefined;
          return Promise.reject(error);
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return: () => {
        // Ended by the client (or its socket closing): nothing left to tell it.
        tooSlow = undefined;
        queue.length = 0;
        return finish();
      },
      throw: (error: unknown) => finish().then(() => Promise.reject(error as Error)),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  private subscribe(workspaceId: string, listener: Listener): () => void {
    let listeners = this.byWorkspace.get(workspaceId);
    if (!listeners) this.byWorkspace.set(workspaceId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.byWorkspace.delete(workspaceId);
    };
  }
}

/**
 * Feeds `feed` from NATS: a core subscription to `<prefix>.>` gets every
 * event any gateway process publishes to the stream. Returns a stop function.
 * The connection retries for ever; while NATS is down, subscribers get
 * nothing (the events stay in the stream and reach webhooks and consumers).
 *
 * Every process hears every event, most of them of workspaces that nobody
 * subscribes to in this process; the subject names the workspace
 * (`<prefix>.<workspace_id>.<type>`), so such an event is dropped before its
 * body is read. One subscription for all workspaces rather than one per
 * subscribed workspace: a subscriber is live once its resolver returns, with
 * no wait for NATS to take a new subscription.
 */
/** How long one attempt to reach NATS may take before the next. */
const FIRST_CONNECT_TIMEOUT_MS = 2000;

export function feedFromNats(
  feed: OrderFeed,
  options: { url: string; subjectPrefix: string },
  log: Pick<FastifyBaseLogger, 'warn'>,
): () => Promise<void> {
  let connection: NatsConnection | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let attempt: Promise<unknown> = Promise.resolve();
  let warned = false;
  const workspaceToken = options.subjectPrefix.split('.').length;
  const subscribe = (nc: NatsConnection) =>
    nc.subscribe(`${options.subjectPrefix}.>`, {
      callback: (error, message) => {
        if (error) return log.warn({ err: error }, 'order feed: NATS subscription error');
        const workspaceId = message.subject.split('.', workspaceToken + 1)[workspaceToken];
        if (workspaceId === undefined || !feed.listensTo(workspaceId)) return;
        let event: CloudEvent;
        try {
          event = parseExactJson(message.string()) as CloudEvent;
        } catch (parseError) {
          return log.warn({ err: parseError }, 'order feed: a NATS message is not an event');
        }
        // The subject is what NATS permissions guard: a body that names another workspace than its
        // subject (written by someone allowed that subject only) is no event of that workspace.
        if (event?.workspaceid !== workspaceId)
          return log.warn({ subject: message.subject }, 'order feed: a NATS message names another workspace than its subject');
        feed.receive(event);
      },
    });
  // One attempt at a time, each bounded, retried until it connects or the feed stops. (The client's own
  // waitOnFirstConnect retries inside a promise that nothing can end: stopping would wait for ever.)
  const tryToConnect = () => {
    attempt = connect({
      servers: options.url,
      name: 'order-gateway-subscriptions',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: FIRST_CONNECT_TIMEOUT_MS,
    }).then(
      (nc) => {
        if (stopped) return nc.close();
        connection = nc;
        subscribe(nc);
      },
      (error: unknown) => {
        if (!warned) log.warn({ err: error }, 'order feed: could not connect to NATS; retrying');
        warned = true;
        if (!stopped) retry = setTimeout(tryToConnect, 500);
      },
    );
  };
  tryToConnect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await attempt;
    await connection?.drain().catch(() => undefined);
  };
}

/** The REST order of an event (events contract §1) as the service's `Order`; `version` is the event's `sequence`. */
export function orderFromRest(rest: Record<string, unknown>, version: number): Order {
  const order = renameKeys(rest, 'camel') as Record<string, unknown>;
  const currency = String(order.currency);
  const money = (value: unknown) => formatStoredAmount(String(value), currency);
  const items = order.items as Record<string, unknown>[];
  return {
    ...(order as unknown as Order),
    items: items.map((item) => ({
      ...(item as unknown as Order['items'][number]),
      price: money(item.price),
      subtotal: money(item.subtotal),
    })),
    subtotal: money(order.subtotal),
    shipping: money(order.shipping),
    tax: money(order.tax),
    total: money(order.total),
    statusHistory: (order.statusHistory as { status: OrderStatus; timestamp: string }[]).map((change) => ({
      status: change.status,
      timestamp: new Date(change.timestamp),
    })),
    createdAt: new Date(String(order.createdAt)),
    updatedAt: new Date(String(order.updatedAt)),
    version,
  };
}
