/**
 * Webhook endpoints and deliveries, scoped to the caller's workspace (events
 * contract §4). Every rule lives here; GraphQL and the CLI only call it.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError, type FieldError } from '../errors/app-error';
import { execute, queryAll, queryOne } from '../db/sql';
import { ORDER_EVENT_TYPES, type OrderEventType } from '../orders/order-events';
import { newUlid } from '../orders/order-id';
import { DEFAULT_PREVIOUS_SECRET_SECONDS, MAX_PREVIOUS_SECRET_SECONDS, newWebhookSecret } from './webhook-secret';
import { assertPublicTarget, type Lookup, PrivateAddressError } from './network-guard';

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** The event types it receives (every type when it was made without a list). */
  events: OrderEventType[];
  enabled: boolean;
  createdAt: Date;
  /** While a rotated-out secret still signs deliveries beside the current one: until when. */
  previousSecretExpiresAt?: Date;
}

export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  /** `whsec_…`: shown once, when the endpoint is made. */
  secret: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookAttempt {
  attemptedAt: Date;
  statusCode?: number;
  error?: string;
  durationMs: number;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: OrderEventType;
  status: DeliveryStatus;
  createdAt: Date;
  deliveredAt?: Date;
  /** When the next attempt is due (pending deliveries of an enabled endpoint). */
  nextAttemptAt?: Date;
  attempts: WebhookAttempt[];
}

export interface DeliveryPage {
  /** Each delivery with its cursor (pass it as `after` for the deliveries that follow). */
  edges: { cursor: string; delivery: WebhookDelivery }[];
  hasNextPage: boolean;
  /** True when the page was asked for after a cursor (an empty one means the first page). */
  hasPreviousPage: boolean;
}

export interface WebhookServiceOptions {
  allowPrivateNetworks: boolean;
  lookup?: Lookup;
  /** Called when deliveries may have fallen due (a redelivery, an endpoint enabled again), to wake this process's dispatcher. */
  onDeliveriesDue?: () => void;
}

type Scope = { workspaceId: string };

const MAX_URL_LENGTH = 2048;

/** `whep_` + a ULID and `whdl_` + 32 hex digits: the only ids this service makes. */
const ENDPOINT_ID = /^whep_[0-9A-HJKMNP-TV-Z]{26}$/;
const DELIVERY_ID = /^whdl_[0-9a-f]{32}$/;

/**
 * An id of another shape names nothing: NOT_FOUND before any query, since
 * PostgreSQL refuses some such text (a NUL byte) with an error of its own.
 */
function assertCouldExist(id: string, shape: RegExp, what: string): void {
  if (!shape.test(id)) throw AppError.notFound(what);
}
/** Whether the id has an endpoint's shape (GraphQL's node(id:) tells the kinds of ids apart by it). */
export const isEndpointId = (id: string): boolean => ENDPOINT_ID.test(id);
/** Whether the id has a delivery's shape. */
export const isDeliveryId = (id: string): boolean => DELIVERY_ID.test(id);
const MAX_ENDPOINTS_PER_WORKSPACE = 50;
const MAX_PAGE = 100;

type EndpointRow = {
  id: string;
  url: string;
  events: OrderEventType[] | null;
  enabled: boolean;
  createdAt: Date;
  previousSecretExpiresAt: Date | null;
};
/** A previous secret's expiry shows only while it still signs. */
const ENDPOINT_COLUMNS = `id, url, events, enabled, created_at as "createdAt",
  case when previous_secret_expires_at > clock_timestamp() then previous_secret_expires_at end as "previousSecretExpiresAt"`;

const toEndpoint = (row: EndpointRow): WebhookEndpoint => ({
  id: row.id,
  url: row.url,
  events: row.events ?? [...ORDER_EVENT_TYPES],
  enabled: row.enabled,
  createdAt: new Date(row.createdAt),
  ...(row.previousSecretExpiresAt ? { previousSecretExpiresAt: new Date(row.previousSecretExpiresAt) } : {}),
});

export class WebhookService {
  constructor(
    private readonly em: EntityManager,
    private readonly options: WebhookServiceOptions,
  ) {}

  /**
   * Registers an endpoint. The URL must be http(s) without credentials and,
   * unless private networks are allowed, reach only public addresses (checked
   * again at every delivery, since names can change what they resolve to).
   */
  async createEndpoint(scope: Scope, input: { url: string; events?: readonly string[] | null }): Promise<CreatedWebhookEndpoint> {
    const errors: FieldError[] = [];
    const url = checkUrl(input.url, errors);
    const events = checkEventTypes(input.events, errors);
    if (url) await this.checkTarget(url, errors);
    if (errors.length > 0 || !url) throw AppError.validation(errors);
    const secret = newWebhookSecret();
    // The count and the insert in one transaction, under a lock on the workspace's row: two
    // creates (in any processes) cannot both count 49 and both insert. FOR NO KEY UPDATE does
    // not conflict with the key-share locks that inserts of the workspace's orders take.
    const row = await this.em.fork().transactional(async (em) => {
      await queryOne(em, 'select 1 as locked from workspaces where id = ? for no key update', [scope.workspaceId]);
      const count = await queryOne<{ n: number }>(em, 'select count(*)::int as n from webhook_endpoints where workspace_id = ?', [scope.workspaceId]);
      if ((count?.n ?? 0) >= MAX_ENDPOINTS_PER_WORKSPACE) {
        throw AppError.validation([{ path: ['url'], message: `a workspace has at most ${MAX_ENDPOINTS_PER_WORKSPACE} endpoints` }]);
      }
      return queryOne<EndpointRow>(
        em,
        `insert into webhook_endpoints (id, workspace_id, url, events, secret, enabled, created_at)
         values (?, ?, ?, ?::jsonb, ?, true, ?) returning ${ENDPOINT_COLUMNS}`,
        [`whep_${newUlid(new Date())}`, scope.workspaceId, url.toString(), events ? JSON.stringify(events) : null, secret, new Date()],
      );
    });
    if (!row) throw new Error('The endpoint insert returned no row');
    return { ...toEndpoint(row), secret };
  }

  /**
   * Changes an endpoint's URL, event types or whether it is enabled; a field
   * left out (or null) keeps its value, and its secret never changes. The
   * URL and types are checked as at creation.
   *
   * A disabled endpoint receives nothing: an event committed while it is
   * disabled makes no delivery for it (as with an endpoint made later), and
   * its pending deliveries wait, on their schedule, until it is enabled
   * again; then those that fell due go out at once. A new URL or list of types
   * applies to every attempt not yet made, and to events from now on: a type
   * taken off the list is not sent again (NARROWED_DELIVERIES).
   */
  async updateEndpoint(
    scope: Scope,
    id: string,
    input: { url?: string | null; events?: readonly string[] | null; enabled?: boolean | null },
  ): Promise<WebhookEndpoint> {
    assertCouldExist(id, ENDPOINT_ID, 'Webhook endpoint');
    const errors: FieldError[] = [];
    const url = input.url === undefined || input.url === null ? undefined : checkUrl(input.url, errors);
    const events = checkEventTypes(input.events, errors);
    if (url) await this.checkTarget(url, errors);
    if (errors.length > 0) throw AppError.validation(errors);
    const row = await this.em.fork().transactional(async (em) => {
      const updated = await queryOne<EndpointRow>(
        em,
        `update webhook_endpoints set url = coalesce(?, url), events = coalesce(?::jsonb, events), enabled = coalesce(?::boolean, enabled)
         where id = ? and workspace_id = ? returning ${ENDPOINT_COLUMNS}`,
        [url?.toString() ?? null, events ? JSON.stringify(events) : null, input.enabled ?? null, id, scope.workspaceId],
      );
      // A type taken off the list is not attempted again: its deliveries still to go (but one
      // with an attempt under way, left to it) are dropped, or failed when they have attempts
      // to show (redeliverWebhook can still send one by hand).
      if (updated && events) await execute(em, NARROWED_DELIVERIES, [id, JSON.stringify(events)]);
      return updated;
    });
    if (!row) throw AppError.notFound('Webhook endpoint');
    if (input.enabled === true) this.options.onDeliveriesDue?.();
    return toEndpoint(row);
  }

  /**
   * Gives the endpoint a new secret, shown once. The secret it had signs
   * every delivery beside the new one (a second `v1,` signature in
   * `webhook-signature`, which Standard Webhooks receivers accept) for
   * `previousSecretValidForSeconds` (default a day, at most 7; 0 ends it at
   * once, for a secret that leaked), so receivers can move to the new secret
   * without refusing a delivery. Rotating again before that ends drops the
   * older one: at most two secrets sign.
   */
  async rotateSecret(scope: Scope, id: string, previousSecretValidForSeconds?: number | null): Promise<CreatedWebhookEndpoint> {
    const keep = previousSecretValidForSeconds ?? DEFAULT_PREVIOUS_SECRET_SECONDS;
    if (!Number.isInteger(keep) || keep < 0 || keep > MAX_PREVIOUS_SECRET_SECONDS) {
      throw AppError.validation([
        { path: ['previous_secret_valid_for_seconds'], message: `must be a whole number of seconds from 0 to ${MAX_PREVIOUS_SECRET_SECONDS}` },
      ]);
    }
    assertCouldExist(id, ENDPOINT_ID, 'Webhook endpoint');
    const secret = newWebhookSecret();
    const row = await queryOne<EndpointRow>(
      this.em.fork(),
      `update webhook_endpoints set previous_secret = case when ? > 0 then secret end,
         previous_secret_expires_at = case when ? > 0 then clock_timestamp() + ? * interval '1 second' end, secret = ?
       where id = ? and workspace_id = ? returning ${ENDPOINT_COLUMNS}`,
      [keep, keep, keep, secret, id, scope.workspaceId],
    );
    if (!row) throw AppError.notFound('Webhook endpoint');
    return { ...toEndpoint(row), secret };
  }

  /** Unless private networks are allowed, a URL must reach only public addresses (checked again at every delivery). */
  private async checkTarget(url: URL, errors: FieldError[]): Promise<void> {
    if (this.options.allowPrivateNetworks) return;
    try {
      await assertPublicTarget(url, this.options.lookup);
    } catch (error) {
      errors.push({
        path: ['url'],
        message:
          error instanceof PrivateAddressError
            ? `must reach a public address (${PrivateAddressError.what(error.address, error.hostname)})`
            : 'must name a host that resolves',
      });
    }
  }

  async listEndpoints(scope: Scope): Promise<WebhookEndpoint[]> {
    const rows = await queryAll<EndpointRow>(
      this.em.fork(),
      `select ${ENDPOINT_COLUMNS} from webhook_endpoints where workspace_id = ? order by created_at, id`,
      [scope.workspaceId],
    );
    return rows.map(toEndpoint);
  }

  /** One endpoint of the workspace; another workspace's is NOT_FOUND, as an id that names none. */
  async getEndpoint(scope: Scope, id: string): Promise<WebhookEndpoint> {
    assertCouldExist(id, ENDPOINT_ID, 'Webhook endpoint');
    const row = await queryOne<EndpointRow>(
      this.em.fork(),
      `select ${ENDPOINT_COLUMNS} from webhook_endpoints where id = ? and workspace_id = ?`,
      [id, scope.workspaceId],
    );
    if (!row) throw AppError.notFound('Webhook endpoint');
    return toEndpoint(row);
  }

  /** One delivery of one of the workspace's endpoints, with its attempts; another workspace's is NOT_FOUND. */
  async getDelivery(scope: Scope, id: string): Promise<WebhookDelivery> {
    assertCouldExist(id, DELIVERY_ID, 'Webhook delivery');
    const row = await queryOne<DeliveryRow>(
      this.em.fork(),
      `${SELECT_DELIVERIES} join webhook_endpoints w on w.id = d.endpoint_id where d.id = ? and w.workspace_id = ?`,
      [id, scope.workspaceId],
    );
    if (!row) throw AppError.notFound('Webhook delivery');
    return toDelivery(row);
  }

  /** Deletes the workspace's endpoint, its deliveries and their attempts. Another workspace's endpoint is NOT_FOUND. */
  async deleteEndpoint(scope: Scope, id: string): Promise<void> {
    assertCouldExist(id, ENDPOINT_ID, 'Webhook endpoint');
    const deleted = await execute(this.em.fork(), 'delete from webhook_endpoints where id = ? and workspace_id = ?', [id, scope.workspaceId]);
    if (deleted === 0) throw AppError.notFound('Webhook endpoint');
  }

  /** The workspace of an endpoint (the CLI deletes by id alone, as an operator). */
  async workspaceOfEndpoint(id: string): Promise<string | undefined> {
    if (!ENDPOINT_ID.test(id)) return undefined;
    const row = await queryOne<{ workspaceId: string }>(this.em.fork(), 'select workspace_id as "workspaceId" from webhook_endpoints where id = ?', [id]);
    return row?.workspaceId;
  }

  /** The workspace of a delivery (the CLI redelivers by id alone, as an operator). */
  async workspaceOfDelivery(id: string): Promise<string | undefined> {
    if (!DELIVERY_ID.test(id)) return undefined;
    const row = await queryOne<{ workspaceId: string }>(
      this.em.fork(),
      'select w.workspace_id as "workspaceId" from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id where d.id = ?',
      [id],
    );
    return row?.workspaceId;
  }

  /** The endpoint's deliveries, newest first, each with its attempts (oldest first). */
  async listDeliveries(scope: Scope, endpointId: string, page: { first?: number; after?: string }): Promise<DeliveryPage> {
    const first = page.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) {
      throw AppError.validation([{ path: ['first'], message: `must be between 1 and ${MAX_PAGE}` }]);
    }
    const after = page.after ? decodeCursor(page.after) : undefined;
    assertCouldExist(endpointId, ENDPOINT_ID, 'Webhook endpoint');
    const em = this.em.fork();
    const owner = await queryOne(em, 'select 1 as found from webhook_endpoints where id = ? and workspace_id = ?', [endpointId, scope.workspaceId]);
    if (!owner) throw AppError.notFound('Webhook endpoint');
    const rows = await queryAll<DeliveryRow>(
      em,
      `${SELECT_DELIVERIES} where d.endpoint_id = ?
       ${after ? 'and (d.created_at, d.id) < (?::timestamptz, ?)' : ''}
       order by d.created_at desc, d.id desc limit ?`,
      after ? [endpointId, after.createdAt, after.id, first + 1] : [endpointId, first + 1],
    );
    const edges = rows.slice(0, first).map((row) => {
      const delivery = toDelivery(row);
      return { cursor: encodeCursor({ createdAt: delivery.createdAt.toISOString(), id: delivery.id }), delivery };
    });
    return { edges, hasNextPage: rows.length > first, hasPreviousPage: after !== undefined };
  }

  /**
   * Schedules the delivery again, now, with a fresh retry schedule (its
   * attempt log is kept). Any delivery of the workspace may be redelivered,
   * `failed` ones above all; another workspace's is NOT_FOUND. A delivery
   * with an attempt under way (pending and leased) is left to that attempt:
   * clearing its lease would let the dispatcher start a second attempt beside
   * it, the same event twice at once, past the endpoint's in-flight cap.
   */
  async redeliver(scope: Scope, deliveryId: string): Promise<WebhookDelivery> {
    assertCouldExist(deliveryId, DELIVERY_ID, 'Webhook delivery');
    const em = this.em.fork();
    const touched = await execute(
      em,
      `update webhook_deliveries d set status = 'pending', attempts = 0, next_attempt_at = clock_timestamp(), claimed_until = null
       from webhook_endpoints w
       where d.id = ? and w.id = d.endpoint_id and w.workspace_id = ?
         and not (d.status = 'pending' and d.claimed_until is not null and d.claimed_until >= clock_timestamp())`,
      [deliveryId, scope.workspaceId],
    );
    if (touched > 0) this.options.onDeliveriesDue?.();
    const row = await queryOne<DeliveryRow>(
      em,
      `${SELECT_DELIVERIES} join webhook_endpoints w on w.id = d.endpoint_id where d.id = ? and w.workspace_id = ?`,
      [deliveryId, scope.workspaceId],
    );
    if (!row) throw AppError.notFound('Webhook delivery');
    return toDelivery(row);
  }
}

/** The pending deliveries of an endpoint whose type is not in the JSON list given, and not in flight: dropped, or failed once tried. */
const NARROWED_DELIVERIES = `
with narrowed as (
  select d.id, exists (select 1 from webhook_attempts a where a.delivery_id = d.id) as tried
  from webhook_deliveries d join order_events e on e.id = d.event_id
  where d.endpoint_id = ? and d.status = 'pending'
    and (d.claimed_until is null or d.claimed_until < clock_timestamp())
    and e.type not in (select jsonb_array_elements_text(?::jsonb))
  for update of d
), dropped as (
  delete from webhook_deliveries d using narrowed n where d.id = n.id and not n.tried
)
update webhook_deliveries d set status = 'failed', claimed_until = null
from narrowed n where d.id = n.id and n.tried`;

const SELECT_DELIVERIES = `
select d.id, d.endpoint_id as "endpointId", d.event_id as "eventId", e.type as "eventType", d.status,
       d.created_at as "createdAt", d.delivered_at as "deliveredAt", d.next_attempt_at as "nextAttemptAt",
       (select endpoint.enabled from webhook_endpoints endpoint where endpoint.id = d.endpoint_id) as "endpointEnabled",
       (select coalesce(jsonb_agg(jsonb_build_object('attemptedAt', a.attempted_at, 'statusCode', a.status_code,
                 'error', a.error, 'durationMs', a.duration_ms) order by a.id), '[]'::jsonb)
          from webhook_attempts a where a.delivery_id = d.id) as attempts
from webhook_deliveries d join order_events e on e.id = d.event_id`;

type DeliveryRow = Omit<WebhookDelivery, 'attempts' | 'deliveredAt' | 'nextAttemptAt'> & {
  deliveredAt: Date | null;
  nextAttemptAt: Date;
  endpointEnabled: boolean;
  attempts: { attemptedAt: string; statusCode: number | null; error: string | null; durationMs: number }[];
};

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    createdAt: new Date(row.createdAt),
    ...(row.deliveredAt ? { deliveredAt: new Date(row.deliveredAt) } : {}),
    // A disabled endpoint (paused, or gone: 410) is sent nothing, so none of its deliveries has an attempt due.
    ...(row.status === 'pending' && row.endpointEnabled ? { nextAttemptAt: new Date(row.nextAttemptAt) } : {}),
    attempts: row.attempts.map((attempt) => ({
      attemptedAt: new Date(attempt.attemptedAt),
      ...(attempt.statusCode === null ? {} : { statusCode: attempt.statusCode }),
      ...(attempt.error === null ? {} : { error: attempt.error }),
      durationMs: attempt.durationMs,
    })),
  };
}

function checkUrl(raw: string, errors: FieldError[]): URL | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    errors.push({ path: ['url'], message: 'must be an absolute http or https URL' });
    return undefined;
  }
  if (!['http:', 'https:'].includes(url.protocol)) errors.push({ path: ['url'], message: 'must be an http or https URL' });
  else if (url.username || url.password) errors.push({ path: ['url'], message: 'must not carry credentials' });
  else if (raw.length > MAX_URL_LENGTH) errors.push({ path: ['url'], message: `must be at most ${MAX_URL_LENGTH} characters` });
  else return url;
  return undefined;
}

/** A list of known types, without repeats; absent or null means every type. */
function checkEventTypes(events: readonly string[] | null | undefined, errors: FieldError[]): OrderEventType[] | undefined {
  if (events === undefined || events === null) return undefined;
  if (events.length === 0) {
    // No names here: only GraphQL can send an empty list, and its enum spells them otherwise (ORDER_CREATED).
    errors.push({ path: ['events'], message: 'must name at least one event type (leave it out for every type)' });
    return undefined;
  }
  const known = new Set<string>(ORDER_EVENT_TYPES);
  events.forEach((type, index) => {
    if (!known.has(type)) errors.push({ path: ['events', index], message: `must be one of ${ORDER_EVENT_TYPES.join(', ')}` });
  });
  return [...new Set(events)] as OrderEventType[];
}

function encodeCursor(cursor: { createdAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

function isIsoInstant(text: string): boolean {
  // Years 0001 to 9999 (PostgreSQL has no year 0).
  if (!/^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(text)) return false;
  const time = Date.parse(text);
  return !Number.isNaN(time) && new Date(time).toISOString() === text;
}

function decodeCursor(text: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString()) as unknown[];
    // Exactly the form encodeCursor writes (toISOString), which PostgreSQL reads: Date.parse takes more ("1", "+275760-…").
    if (typeof createdAt === 'string' && typeof id === 'string' && isIsoInstant(createdAt) && DELIVERY_ID.test(id)) {
      return { createdAt, id };
    }
  } catch {
    // Falls through to the error below.
  }
  throw AppError.validation([{ path: ['after'], message: 'is not a cursor this API gave out' }]);
}
