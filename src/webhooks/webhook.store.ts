/** The webhook dispatcher's SQL: claiming due deliveries and recording attempts. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, queryAll } from '../db/sql';
import type { StoredEvent } from '../events/order-events';
import { PUBLISHED_DATA_SQL } from '../events/outbox.store';
import { parseExactJson } from '../shared/exact-json';

export interface DueDelivery {
  id: string;
  endpointId: string;
  attempts: number;
  url: string;
  secret: string;
  /** A rotated-out secret that still signs beside `secret` (see `WebhookService.rotateSecret`). */
  previousSecret: string | null;
  event: StoredEvent;
}

/**
 * Claims due deliveries, the longest-waiting first, at most `limit`, and at
 * most `perEndpoint` in flight for one endpoint across every process: a
 * delivery in flight is a pending one still leased (`claimed_until` ahead;
 * `record` clears it), so `in_flight` counts the attempts running anywhere,
 * and `place` numbers an endpoint's claimable deliveries in their order.
 * An endpoint that hangs holds at most `perEndpoint` attempts, never the
 * whole process; and a workspace at most `perWorkspace` (`workspace_place`
 * numbers its claimable deliveries the same way), so that one with many
 * hanging endpoints cannot take every place and hold up other workspaces. One scan of the due index: a delivery in flight was due
 * when it was claimed. A disabled endpoint's deliveries wait where they are
 * (`WebhookService.updateEndpoint`).
 */
const CLAIM = `
with pending as (
  select d.id, d.next_attempt_at, w.workspace_id,
         (d.claimed_until is null or d.claimed_until < clock_timestamp()) as free,
         count(*) filter (where d.claimed_until >= clock_timestamp()) over (partition by d.endpoint_id) as in_flight,
         count(*) filter (where d.claimed_until >= clock_timestamp()) over (partition by w.workspace_id) as workspace_in_flight,
         count(*) filter (where d.claimed_until is null or d.claimed_until < clock_timestamp())
           over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as place
  from webhook_deliveries d
  join webhook_endpoints w on w.id = d.endpoint_id and w.enabled
  where d.status = 'pending' and d.next_attempt_at <= clock_timestamp()
), claimable as (
  select id, next_attempt_at, workspace_in_flight,
         row_number() over (partition by workspace_id order by next_attempt_at, id) as workspace_place
  from pending
  where free and in_flight + place <= ?::int
), due as (
  select d.id from webhook_deliveries d join claimable c on c.id = d.id
  where c.workspace_in_flight + c.workspace_place <= ?::int
  order by c.next_attempt_at
  limit ?::int
  for update of d skip locked
)
update webhook_deliveries d set claimed_until = clock_timestamp() + ?::int * interval '1 millisecond'
from due, webhook_endpoints w, order_events e, orders o
where d.id = due.id and w.id = d.endpoint_id and e.id = d.event_id and o.id = e.order_id
returning d.id, d.endpoint_id as "endpointId", d.attempts, w.url, w.secret,
          case when w.previous_secret_expires_at > clock_timestamp() then w.previous_secret end as "previousSecret", e.position::text as position, e.id as "eventId", e.workspace_id as "workspaceId",
          e.order_id as "orderId", e.type, e.sequence, e.time, (${PUBLISHED_DATA_SQL})::text as data,
          e.traceparent, e.tracestate`;

type ClaimRow = Omit<DueDelivery, 'event'> & Omit<StoredEvent, 'id'> & { eventId: string };

export type DeliveryOutcome =
  | { status: 'delivered' }
  | { status: 'pending'; retryInMs: number }
  | { status: 'failed' };

/** What an attempt does to its endpoint besides: `disable` it (its receiver answered 410 Gone). */
export type EndpointOutcome = 'keep' | 'disable';

export class WebhookStore {
  constructor(private readonly em: EntityManager) {}

  /**
   * Up to `limit` due deliveries, leased for `leaseMs`, leaving no endpoint more than `perEndpoint`
   * and no workspace more than `perWorkspace` in flight (see CLAIM).
   */
  async claimDue(limit: number, leaseMs: number, perEndpoint: number, perWorkspace: number): Promise<DueDelivery[]> {
    const rows = await queryAll<ClaimRow & { data: string }>(this.em.fork(), CLAIM, [perEndpoint, perWorkspace, limit, leaseMs]);
    // `data` as text, parsed exactly: metadata numbers beyond a double go out as they were sent (shared/exact-json.ts).
    return rows.map(({ id, endpointId, attempts, url, secret, previousSecret, eventId, data, ...event }) => ({
      id,
      endpointId,
      attempts,
      url,
      secret,
      previousSecret,
      event: { ...event, data: parseExactJson(data) as object, id: eventId },
    }));
  }

  /**
   * Logs the attempt and moves the delivery on, in one statement. A delivery
   * whose endpoint was deleted while the attempt ran is gone (with its
   * attempts): then nothing is written. The row lock makes the delete wait for
   * this statement, or this statement find no row after the delete, so the
   * attempt never meets a foreign-key violation. With `endpoint` = `disable`,
   * the same statement disables the delivery's endpoint. True when the delivery was still there.
   */
  async record(
    deliveryId: string,
    attempt: { at: Date; statusCode?: number; error?: string; durationMs: number },
    outcome: DeliveryOutcome,
    endpoint: EndpointOutcome = 'keep',
  ): Promise<boolean> {
    const updated = await execute(
      this.em.fork(),
      `with delivery as (
         select id, endpoint_id from webhook_deliveries where id = ? for no key update
       ), attempt as (
         insert into webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
         select id, ?::timestamptz, ?::int, ?::text, ?::int from delivery
       ), disabled as (
         update webhook_endpoints set enabled = false
         where ?::boolean and id = (select endpoint_id from delivery)
       )
       update webhook_deliveries d set attempts = attempts + 1, claimed_until = null, status = ?,
         next_attempt_at = case when ?::bigint is null then next_attempt_at else clock_timestamp() + ?::bigint * interval '1 millisecond' end,
         delivered_at = case when ? = 'delivered' then clock_timestamp() else delivered_at end
       from delivery where d.id = delivery.id`,
      [
        deliveryId,
        attempt.at,
        attempt.statusCode ?? null,
        attempt.error?.slice(0, 1000) ?? null,
        attempt.durationMs,
        endpoint === 'disable',
        outcome.status,
        outcome.status === 'pending' ? outcome.retryInMs : null,
        outcome.status === 'pending' ? outcome.retryInMs : null,
        outcome.status,
      ],
    );
    return updated > 0;
  }
}
