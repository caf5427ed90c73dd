/**
 * Delivers webhooks (events contract §4), in every gateway process: claims
 * due deliveries (`FOR UPDATE SKIP LOCKED` and a lease, as the relay does),
 * POSTs each signed with the endpoint's secret (Standard Webhooks, through
 * the `standardwebhooks` package), and records every attempt. A 2xx is
 * delivered; anything else is retried on the schedule with jitter, then the
 * delivery is `failed` until someone redelivers it. A 410 Gone disables the
 * endpoint (Standard Webhooks: the receiver wants nothing more), so its
 * deliveries wait, as for an endpoint disabled by hand, until it is enabled. Deliveries are rows made
 * from the outbox, so a restart loses none.
 *
 * Attempts run side by side, each on its own: a round claims as many due
 * deliveries as this process has room for (`maxInFlight`) and starts them
 * without waiting, and each attempt that ends wakes the loop to claim again.
 * So a receiver that hangs until the timeout holds up nobody else's
 * deliveries or retries, and the claim gives one endpoint at most
 * `perEndpoint` attempts in flight across all processes, so that a hanging
 * endpoint with a backlog cannot take every place either.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { toCloudEvent } from '../events/order-events';
import { WakeableLoop } from '../events/wakeable-loop';
import { stringifyJson } from '../shared/exact-json';
import { InFlight } from '../shared/in-flight';
import type { Lookup } from './network-guard';
import { retryDelay } from './retry-schedule';
import { sendWebhook } from './webhook.sender';
import type { DeliveryOutcome, DueDelivery, WebhookStore } from './webhook.store';
import { traceHeadersOf, traceIdOf } from '../observability/trace-context';

export type AttemptResult = 'delivered' | 'retry' | 'failed';

/** The longest a receiver's `Retry-After` can put a retry off. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * The wait before a retry: the schedule's, or longer when a receiver that answered 429 or 503 asked
 * for more with `Retry-After` (as the CloudEvents webhook spec and Standard Webhooks senders do),
 * up to an hour. Never shorter than the schedule's, and the attempt still counts: a receiver cannot
 * stretch the schedule by more than an hour per attempt, nor shorten it. Undefined when the
 * schedule is used up.
 */
export function honourRetryAfter(scheduled: number | undefined, statusCode: number | undefined, retryAfterMs: number | undefined): number | undefined {
  if (scheduled === undefined || retryAfterMs === undefined || (statusCode !== 429 && statusCode !== 503)) return scheduled;
  return Math.max(scheduled, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

export interface DispatcherOptions {
  store: WebhookStore;
  log: Pick<FastifyBaseLogger, 'debug' | 'warn' | 'error'>;
  pollIntervalMs: number;
  /** Waits before each retry, in milliseconds. */
  retrySchedule: readonly number[];
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  /** Name resolution (tests give their own). */
  lookup?: Lookup;
  /** Attempts this process runs at once (50). */
  maxInFlight?: number;
  /** Attempts one endpoint may have in flight, across all processes (5). */
  perEndpoint?: number;
  /**
   * Attempts one workspace's endpoints may have in flight together, across all processes (25, half
   * of a process's places): ten hanging endpoints of one workspace took every place before.
   */
  perWorkspace?: number;
  onAttempt?: (result: AttemptResult) => void;
  /**
   * Now, for an attempt's `webhook-timestamp` and its time in the log: the database's clock (see
   * database-clock.ts), so that a process whose own clock is off still signs a time a receiver's
   * 5-minute check accepts. The process's clock when absent.
   */
  clock?: () => Date;
}

export class WebhookDispatcher {
  private readonly loop: WakeableLoop;
  private readonly maxInFlight: number;
  private readonly perEndpoint: number;
  private readonly perWorkspace: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly attempts = new InFlight();

  constructor(private readonly options: DispatcherOptions) {
    this.maxInFlight = options.maxInFlight ?? 50;
    this.perEndpoint = options.perEndpoint ?? 5;
    this.perWorkspace = options.perWorkspace ?? 25;
    this.loop = new WakeableLoop(
      async () => {
        await this.round();
        // Never "more at once": every attempt that ends wakes the loop, which then claims again.
        return false;
      },
      options.pollIntervalMs,
      (error, failuresNotLogged) =>
        options.log.warn({ err: error, failuresNotLogged }, 'webhooks: deliveries could not be read; will retry'),
      // The attempts that end in one busy moment share one claim.
      20,
    );
  }

  start(): void {
    this.loop.start();
  }

  wake(): void {
    this.loop.wake();
  }

  /** Stops claiming and waits for the attempts in flight (each ends within `timeoutMs`) to be recorded. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.loop.stop();
    await this.attempts.settle();
  }

  private async round(): Promise<void> {
    const room = this.maxInFlight - this.attempts.size;
    if (room <= 0) return;
    // The lease outlives the longest attempt, so no other process takes a delivery in flight.
    const due = await this.options.store.claimDue(room, this.options.timeoutMs + 30_000, this.perEndpoint, this.perWorkspace);
    for (const delivery of due)
      void this.attempts.track(
        this.attempt(delivery)
          .catch((error: unknown) =>
            // Its lease runs out and any process tries it again.
            this.options.log.warn({ err: error, deliveryId: delivery.id }, 'webhooks: an attempt could not be recorded'),
          )
          .finally(() => this.wake()),
      );
  }

  private async attempt(delivery: DueDelivery): Promise<void> {
    const event = toCloudEvent(delivery.event);
    const body = stringifyJson(event);
    const at = this.options.clock?.() ?? new Date();
    // Standard Webhooks: several signatures, space-separated; a receiver accepts any one it can verify.
    let signature = new Webhook(delivery.secret).sign(event.id, at, body);
    if (delivery.previousSecret) signature += ` ${new Webhook(delivery.previousSecret).sign(event.id, at, body)}`;
    const result = await sendWebhook({
      url: delivery.url,
      headers: {
        'content-type': 'application/json',
        'webhook-id': event.id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
        'user-agent': 'order-gateway-webhooks',
        ...traceHeadersOf(event),
      },
      body,
      timeoutMs: this.options.timeoutMs,
      allowPrivateNetworks: this.options.allowPrivateNetworks,
      lookup: this.options.lookup,
    });
    const { retryAfterMs, ...attempt } = result;
    const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
    const wait = ok ? undefined : honourRetryAfter(retryDelay(this.options.retrySchedule, delivery.attempts + 1), result.statusCode, retryAfterMs);
    const outcome = ok
      ? ({ status: 'delivered' } as const)
      : wait === undefined
        ? ({ status: 'failed' } as const)
        : ({ status: 'pending', retryInMs: wait } as const);
    // Standard Webhooks: "410 Gone … Sender should disable the webhook endpoint, and stop sending it messages."
    const gone = result.statusCode === 410;
    const recorded = await this.options.store.record(delivery.id, { at, ...attempt }, outcome, gone ? 'disable' : 'keep');
    if (gone) this.options.log.warn({ deliveryId: delivery.id }, 'webhooks: a receiver answered 410 Gone; its endpoint is disabled');
    // A delivery deleted with its endpoint while the attempt ran is nobody's concern any more.
    if (recorded) this.logAttempt(delivery, result, outcome);
    this.options.onAttempt?.(ok ? 'delivered' : outcome.status === 'failed' ? 'failed' : 'retry');
    // A retry due before the next poll gets a wake-up of its own.
    if (wait !== undefined && wait < this.options.pollIntervalMs) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.wake();
      }, wait + 5);
      timer.unref();
      this.timers.add(timer);
    }
  }

  /**
   * One line per attempt that did not deliver (a warning while retries remain, an error once the
   * schedule is used up), a debug line per delivered one. The ids say which; the URL is left out,
   * as it may carry a receiver's token in its query.
   */
  private logAttempt(delivery: DueDelivery, result: { statusCode?: number; error?: string; durationMs: number }, outcome: DeliveryOutcome): void {
    const fields = {
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      workspaceId: delivery.event.workspaceId,
      orderId: delivery.event.orderId,
      eventId: delivery.event.id,
      eventType: delivery.event.type,
      attempt: delivery.attempts + 1,
      ...(result.statusCode === undefined ? {} : { statusCode: result.statusCode }),
      ...(result.error === undefined ? {} : { error: result.error }),
      durationMs: result.durationMs,
      // The trace of the request that made the change (its `traceparent`'s trace id), for a log pipeline to join on.
      ...(delivery.event.traceparent ? { trace_id: traceIdOf(delivery.event.traceparent) } : {}),
    };
    if (outcome.status === 'delivered') this.options.log.debug(fields, 'webhooks: delivered');
    else if (outcome.status === 'pending') this.options.log.warn({ ...fields, retryInMs: outcome.retryInMs }, 'webhooks: an attempt failed; will retry');
    else this.options.log.error(fields, 'webhooks: a delivery failed: it used up its retry schedule');
  }
}
