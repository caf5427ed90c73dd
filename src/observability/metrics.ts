/**
 * The Prometheus metrics of one app instance. Each app owns its registry
 * (nothing goes to prom-client's global one), so several apps in one process,
 * as in the tests, never share or double-register a series.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ORDER_EVENT_TYPES } from '../orders/order-events';

/**
 * How a GraphQL request ended. `persisted_query_not_found`: an APQ hash this process does not know
 * yet, which the client's link answers with the full text; normal traffic after a start or a
 * deploy, not a failure.
 */
export type GraphQLOutcome = 'success' | 'user_error' | 'error' | 'unauthenticated' | 'persisted_query_not_found';

/** Pool figures read at scrape time; absent when the driver has no pool to ask. */
export interface PoolStats {
  used: number;
  free: number;
  pendingAcquires: number;
  max: number;
}

/** Operation names come from callers; past this many distinct names new ones are counted as `(other)`. */
const MAX_OPERATION_NAMES = 200;
/** A longer operation name (GraphQL bounds it only by the body) is counted as `(other)` too. */
const MAX_OPERATION_NAME_LENGTH = 100;

/** The methods of RFC 9110 and PATCH; any other (WebDAV's PROPFIND, a scanner's MKCALENDAR…) is `(other)`. */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/**
 * The `method` label of a request: Node's parser takes some thirty methods, and each multiplied
 * every route's histogram (a scan of every method made the exposition 19 times longer).
 */
export function httpMethodLabel(method: string): string {
  return HTTP_METHODS.has(method) ? method : '(other)';
}

/** Default metrics of prom-client that are gauges ending in `_total`. */
const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly graphqlOperations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations by operation name and outcome (success, user_error, error, unauthenticated)',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly ordersCreated = new Counter({
    name: 'orders_created_total',
    help: 'Orders created, by the transport that took them (rest, graphql)',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly dbQueryDuration = new Histogram({
    name: 'db_query_duration_seconds',
    help: 'Database statement duration (millisecond resolution) by statement kind',
    labelNames: ['statement'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  private readonly poolConnections = new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state (used, free, pending = callers waiting for one, max)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => this.readPool(),
  });

  readonly eventsPublished = new Counter({
    name: 'events_published_total',
    help: 'Order events published by this process (to NATS when configured, and to its subscribers), by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly eventPublishLatency = new Histogram({
    name: 'event_publish_latency_seconds',
    help: 'Time from an order change to its event being published',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly eventPublishFailures = new Counter({
    name: 'event_publish_failures_total',
    help: 'Failed attempts to publish an event (it stays in the outbox and is retried), by publisher',
    labelNames: ['publisher'] as const,
    registers: [this.registry],
  });

  readonly webhookAttempts = new Counter({
    name: 'webhook_attempts_total',
    help: 'Webhook delivery attempts by result (delivered, retry = failed and rescheduled, failed = schedule used up)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly eventsListenUp = new Gauge({
    name: 'events_listen_up',
    help: "Whether the event relay's LISTEN connection is in place: 1 yes (other processes' commits wake it at once), 0 no (they wait for the poll); absent on the embedded database",
    registers: [],
  });

  private readonly eventsListenLost = new Counter({
    name: 'events_listen_lost_total',
    help: "Times the event relay's LISTEN connection was lost (a database restart, failover or terminated session); it reconnects by itself",
    registers: [],
  });

  /** The relay's LISTEN connection came up (true) or was lost (false). Both series appear with the first call: none on the embedded database. */
  eventsListening(listening: boolean): void {
    if (!this.registry.getSingleMetric('events_listen_up')) {
      this.registry.registerMetric(this.eventsListenUp);
      this.registry.registerMetric(this.eventsListenLost);
    }
    this.eventsListenUp.set(listening ? 1 : 0);
    if (!listening) this.eventsListenLost.inc();
  }

  private readonly outboxBacklog = new Gauge({
    name: 'outbox_backlog',
    help: 'Order events in the outbox not yet published (all processes together); NaN while the outbox cannot be read',
    registers: [this.registry],
    collect: async () => {
      if (!this.outboxReader) return;
      // Unknown, not the last figure read (a fresh start with the database down showed 0 for good).
      this.outboxBacklog.set(await this.outboxReader().catch(() => Number.NaN));
    },
  });

  private readonly outboxOldestAge = new Gauge({
    name: 'outbox_oldest_event_age_seconds',
    help: 'Seconds since the change of the oldest order event not yet published (0 when none waits); NaN while the outbox cannot be read',
    registers: [this.registry],
    collect: async () => {
      if (!this.outboxAgeReader) return;
      this.outboxOldestAge.set(await this.outboxAgeReader().catch(() => Number.NaN));
    },
  });

  private readonly databaseUp = new Gauge({
    name: 'db_up',
    help: 'Whether the database answered a ping and takes writes at scrape time: 1 yes, 0 no (as /readyz)',
    registers: [this.registry],
    collect: async () => {
      if (!this.databasePing) return;
      this.databaseUp.set((await this.databasePing().catch(() => false)) ? 1 : 0);
    },
  });

  private readonly subscriptionsOpen = new Gauge({
    name: 'graphql_subscriptions',
    help: 'GraphQL subscriptions open in this process (over graphql-ws), every workspace together',
    registers: [this.registry],
    collect: () => {
      if (this.subscriptionCount) this.subscriptionsOpen.set(this.subscriptionCount());
    },
  });

  private readonly operationNames = new Set<string>();
  private subscriptionCount: (() => number) | undefined;
  private databasePing: (() => Promise<boolean>) | undefined;
  private poolStats: (() => PoolStats | undefined) | undefined;
  private outboxReader: (() => Promise<number>) | undefined;
  private outboxAgeReader: (() => Promise<number>) | undefined;

  constructor() {
    // Zero series for both transports, so a rate() sees the first order too.
    this.ordersCreated.inc({ transport: 'rest' }, 0);
    this.ordersCreated.inc({ transport: 'graphql' }, 0);
    for (const result of ['delivered', 'retry', 'failed']) this.webhookAttempts.inc({ result }, 0);
    // The same for the event counters: a series first seen at 1 gives rate() and increase() nothing,
    // so the first failed publishes were missed, and a relay that never published had no series to alert on.
    for (const type of ORDER_EVENT_TYPES) this.eventsPublished.inc({ type }, 0);
    this.eventPublishFailures.inc({ publisher: 'nats' }, 0);
    collectDefaultMetrics({ register: this.registry });
    // prom-client's gauges named like counters: `promtool check metrics` refuses them, and each is
    // the sum of the gauge of the same name without `_total` (by type), which stays.
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
  }

  /** Where the outbox backlog gauge reads its figure from at each scrape. */
  watchOutbox(read: () => Promise<number>, readOldestAge?: () => Promise<number>): void {
    this.outboxReader = read;
    this.outboxAgeReader = readOldestAge;
  }

  /** Where the subscriptions gauge reads its figure from at each scrape. */
  watchSubscriptions(count: () => number): void {
    this.subscriptionCount = count;
  }

  /** How `db_up` asks the database at each scrape. */
  watchDatabase(ping: () => Promise<boolean>): void {
    this.databasePing = ping;
  }

  /** Where the pool gauge reads its figures from at each scrape. */
  watchPool(read: () => PoolStats | undefined): void {
    this.poolStats = read;
  }

  private readPool(): void {
    const stats = this.poolStats?.();
    if (!stats) return;
    this.poolConnections.set({ state: 'used' }, stats.used);
    this.poolConnections.set({ state: 'free' }, stats.free);
    this.poolConnections.set({ state: 'pending' }, stats.pendingAcquires);
    this.poolConnections.set({ state: 'max' }, stats.max);
  }

  countGraphQLOperation(operationName: string, outcome: GraphQLOutcome): void {
    let operation = operationName;
    if (!this.operationNames.has(operation)) {
      if (this.operationNames.size >= MAX_OPERATION_NAMES || operation.length > MAX_OPERATION_NAME_LENGTH)
        operation = '(other)';
      else this.operationNames.add(operation);
    }
    this.graphqlOperations.inc({ operation, outcome });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
