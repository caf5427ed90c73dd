import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { AppError, collectFieldErrors, type FieldError } from '../errors/app-error';
import { computeTotals, parseCreateOrderRequest, type OrderDraft } from './create-order.validation';
import { IdempotencyKeyEntity } from './idempotency.entity';
import { checkIdempotencyKey, claimKey, fingerprint, legacyFingerprint } from './idempotency';
import { parseListQuery } from './list-parameters';
import {
  checkPageSize,
  cursorOf,
  decodeCursor,
  DEFAULT_SORT,
  encodeCursor,
  type OrderSort,
} from './order-cursor';
import { needsSyncHorizon, parseOrderFilter } from './order-filter';
import { assertStatusMove } from './order-status';
import { mergeMetadata, parseUpdateOrderRequest, REST_FIELD_NAMES } from './update-order.validation';
import { OrderEntity } from './order.entity';
import { withTrace, type CommittedOrderEvent, type InProcessRelay, type OrderEventBuilder } from './order-events';
import type { OrderRepository } from './order.repository';
import type { NewOrder } from './order.rows';
import { assertTotalMatches, buildNewOrder } from './new-order';
import { assertCouldExist, isOrderId } from './order-id';
import { isOrderNumber, localDay } from './order-number';
import type { Order, OrderList, OrderPage, RequestContext, UpdateCondition } from './order.types';
import { workspaceCreateGate } from './create-gate';
import { InFlight } from '../shared/in-flight';
import { jsonEqual } from '../shared/exact-json';

export interface OrderServiceOptions {
  /**
   * Where "now" comes from for a new order's id, number and `created_at`
   * (tests pin it). `updated_at` and status changes take the database's clock
   * (see `OrderRepository.changeTime`).
   */
  clock?: () => Date;
  /** How long a completed create is remembered under its Idempotency-Key; 24 hours by default. */
  idempotencyTtlMs?: number;
  /**
   * Builds the events each change writes into the outbox, in the change's
   * transaction. Without it no events are written (only to measure their cost).
   */
  events?: OrderEventBuilder;
  /**
   * This process's relay, told of every commit with events. Without one, such
   * a commit sends a NOTIFY for other processes' relays instead (NOTIFY takes
   * a server-wide lock at every commit, so a process with a relay sends none).
   */
  relay?: InProcessRelay;
  /** Where creates queue per workspace (see `create-gate.ts`); the app sets its limits. */
  createGate?: ReturnType<typeof workspaceCreateGate>;
}

export interface CreatedOrder {
  order: Order;
  /** True when this answers a retry: the order was created by an earlier request with the same key. */
  replayed: boolean;
}

/**
 * Every order rule lives here, whichever transport a request arrives by:
 * validation, exact money, order numbers, status, idempotency, tenancy. Each
 * public method is one use case with at most one transaction.
 */
export class OrderService {
  private readonly clock: () => Date;
  private readonly idempotencyTtlMs: number;
  private readonly events?: OrderEventBuilder;
  private readonly relay?: InProcessRelay;
  private readonly gate: ReturnType<typeof workspaceCreateGate>;
  /**
   * The one-statement paths (a create without a key, reads, lists) share one entity manager: the
   * repository runs hand-written SQL only and never loads an entity, and a fork per call cost
   * about 9 µs of CPU and garbage, a twentieth of a GET. Transactions fork their own.
   */
  private readonly statements: OrderRepository;
  /** Creates and updates running, for `settle`. */
  private readonly changes = new InFlight();

  constructor(
    private readonly em: EntityManager,
    options: OrderServiceOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? 24 * 60 * 60 * 1000;
    this.events = options.events;
    this.relay = options.relay;
    this.gate = options.createGate ?? workspaceCreateGate();
    this.statements = em.fork().getRepository(OrderEntity);
  }

  /**
   * Creates an order from a request in the contract's shape (see
   * `create-order.schema.ts`). Validation and the total check run before the
   * transaction, so a rejected request never touches the database; the order
   * number is taken inside it, so a create that fails gives its number back.
   *
   * With an idempotency key, a retry of the same request returns the order
   * the first one created (`replayed: true`) instead of creating another; see
   * `idempotency.ts` for how that holds across processes and crashes.
   *
   * The `order.created` event is written by the same statement as the order,
   * so it exists exactly when the order does; a replay writes none. A checked
   * create queues per workspace in the process before it writes (see
   * `create-gate.ts`); a refused one never joins the queue.
   */
  createOrderExactlyOnce(ctx: RequestContext, request: unknown, key?: string): Promise<CreatedOrder> {
    return this.changes.track(this.create(ctx, request, key));
  }

  private async create(ctx: RequestContext, request: unknown, key?: string): Promise<CreatedOrder> {
    // Everything that needs no database happens before the workspace's queue, whose places
    // (CREATES_PER_WORKSPACE per process) are held only while a create writes: a refused
    // create never waits for one, and checking a body never holds one.
    const draft = parseCreateOrderRequest(request);
    const totals = computeTotals(draft);
    assertTotalMatches(draft, totals.total);
    if (key !== undefined) checkIdempotencyKey(key);
    const newOrder = this.newOrder(ctx, draft, totals);
    const once =
      key === undefined
        ? undefined
        : {
            key,
            fingerprint: fingerprint(draft),
            legacy: legacyFingerprint(request, parseCreateOrderRequest),
          };
    const { event, ...created } = await this.gate.run(ctx.workspaceId, () =>
      once ? this.createOrderOnce(ctx, newOrder, once) : this.createOrder(newOrder),
    );
    if (event) this.relay?.publishCommitted(event);
    return created;
  }

  /** The create without a key: one statement, atomic on its own, so no explicit transaction. */
  private async createOrder(newOrder: NewOrder): Promise<CreatedOrder & { event?: CommittedOrderEvent }> {
    return { ...(await this.insertOrder(this.statements, newOrder)), replayed: false };
  }

  /** The create under an idempotency key: the key's claim, the insert and the remembered answer in one transaction. */
  private async createOrderOnce(
    ctx: RequestContext,
    newOrder: NewOrder,
    once: { key: string; fingerprint: string; legacy?: string },
  ): Promise<CreatedOrder & { event?: CommittedOrderEvent }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.em.fork().transactional(async (em) => {
          const keys = em.getRepository(IdempotencyKeyEntity);
          const remembered = await claimKey(keys, ctx.workspaceId, once.key, once.fingerprint, once.legacy);
          if (remembered.kind === 'replay') return { order: remembered.order, replayed: true };
          const { order, event } = await this.insertOrder(em.getRepository(OrderEntity), newOrder);
          await keys.remember({
            workspaceId: ctx.workspaceId,
            key: once.key,
            fingerprint: once.fingerprint,
            order,
            now: order.createdAt,
            ttlMs: this.idempotencyTtlMs,
          });
          return { order, event, replayed: false };
        });
      } catch (error) {
        // Another transaction stored the key between our claim and our insert
        // (it committed just as we took the lock): look again, and replay it.
        if (error instanceof UniqueConstraintViolationException && attempt === 1) continue;
        throw error;
      }
    }
  }

  /** Deletes expired idempotency keys in bounded batches (run periodically by the app). */
  async sweepExpiredIdempotencyKeys(): Promise<number> {
    return this.em.fork().getRepository(IdempotencyKeyEntity).sweepExpired();
  }

  /** The rows of a new order, stamped now (its id, `created_at` and the day its number counts in). */
  private newOrder(
    ctx: RequestContext,
    draft: OrderDraft,
    totals: ReturnType<typeof computeTotals>,
  ): NewOrder {
    const now = this.clock();
    const { order, items } = buildNewOrder(draft, totals, now);
    return { workspaceId: ctx.workspaceId, day: localDay(now, ctx.timeZone), order, items, trace: ctx.trace };
  }

  /**
   * Has the repository write a new order in one statement, with its event
   * when events are on; that event (leased to this process's relay, if it
   * runs one) is returned to hand over after the commit.
   */
  private async insertOrder(
    orders: OrderRepository,
    newOrder: NewOrder,
  ): Promise<{ order: Order; event?: CommittedOrderEvent }> {
    const events = this.events;
    if (!events) return { order: await orders.insertNumbered(newOrder) };
    return orders.insertNumberedWithEvent(newOrder, events, this.relay?.leaseMs);
  }

  /** One order of the caller's workspace. Another workspace's order is NOT_FOUND, exactly like a missing one. */
  async getOrder(ctx: RequestContext, id: string): Promise<Order> {
    assertCouldExist(id, isOrderId);
    const order = await this.statements.findWhole(ctx.workspaceId, { id });
    if (!order) throw AppError.notFound(`Order ${id}`);
    return order;
  }

  async getOrderByNumber(ctx: RequestContext, orderNumber: string): Promise<Order> {
    assertCouldExist(orderNumber, isOrderNumber);
    const order = await this.statements.findWhole(ctx.workspaceId, { orderNumber });
    if (!order) throw AppError.notFound(`Order ${orderNumber}`);
    return order;
  }

  /**
   * The REST list: filters, sort and page from the query string (contract §3
   * and §8): newest first by default, or `sort=updated_at`; paged by `offset`
   * or by `cursor` (the `nextCursor` of the page before). Unknown or
   * malformed parameters are a VALIDATION_ERROR naming them.
   */
  async listOrders(ctx: RequestContext, query: Record<string, unknown>): Promise<OrderList> {
    const { filter, sort, page } = parseListQuery(query);
    const horizon = needsSyncHorizon(filter, sort) ? await this.statements.syncHorizon() : undefined;
    const found = await this.statements.listPage(ctx, filter, { sort, ...page, horizon });
    const last = found.orders.at(-1);
    return {
      orders: found.orders,
      total: found.total,
      limit: page.limit,
      offset: page.offset,
      hasMore: found.hasMore,
      nextCursor: found.hasMore && last ? encodeCursor(cursorOf(last, sort)) : null,
    };
  }

  /**
   * The GraphQL list: a keyset-paginated page after an opaque cursor. New
   * orders sort before the first page, so paging on while orders are being
   * created neither skips nor repeats a row. In `updated_at` order, see
   * `needsSyncHorizon`.
   */
  async findOrders(
    ctx: RequestContext,
    filterInput: Record<string, unknown>,
    page: { first?: number; after?: string; last?: number; before?: string; sort?: OrderSort },
    /**
     * Whether to count every match (`totalCount`). The count reads every matching order, a
     * second or so for a workspace of 2,000,000, so a page leaves it out unless it is asked for.
     */
    options: { withTotal?: boolean } = {},
  ): Promise<OrderPage> {
    const sort = page.sort ?? DEFAULT_SORT;
    // Every bad argument is reported at once, not only the first one found.
    const errors: FieldError[] = [];
    const filter = collectFieldErrors(errors, () => parseOrderFilter(filterInput));
    // Relay's backward paging: `last` rows, ending before the `before` cursor (or at the end of the list).
    // With `first` too (discouraged, but defined by the Relay connection spec, and what a Relay pagination
    // query whose count has a default sends): the first `first` rows, then the last `last` of those.
    const fromEnd = page.last !== undefined && page.first === undefined;
    const limit = collectFieldErrors(errors, () =>
      fromEnd ? checkPageSize(page.last, 'last') : checkPageSize(page.first, 'first'),
    );
    const last =
      page.last !== undefined && !fromEnd
        ? collectFieldErrors(errors, () => checkPageSize(page.last, 'last'))
        : undefined;
    // An empty cursor means "from the start", as a null one does: some clients send back what an empty page gave them.
    const after = page.after
      ? collectFieldErrors(errors, () => decodeCursor(page.after as string, 'after', sort))
      : undefined;
    const before = page.before
      ? collectFieldErrors(errors, () => decodeCursor(page.before as string, 'before', sort))
      : undefined;
    if (errors.length > 0 || !filter || limit === undefined) throw AppError.validation(errors);
    const horizon = needsSyncHorizon(filter, sort) ? await this.statements.syncHorizon() : undefined;
    const found = await this.statements.findPage(ctx, filter, {
      sort,
      limit,
      after,
      before,
      fromEnd,
      horizon,
    }, options.withTotal ?? true);
    const orders = last !== undefined ? found.orders.slice(-last) : found.orders;
    return {
      edges: orders.map((order) => ({ cursor: encodeCursor(cursorOf(order, sort)), order })),
      totalCount: found.total,
      // The Relay spec's pageInfo: the direction paged says whether more rows lie that way; the other way, a
      // cursor given means its row (at least) lies there.
      hasNextPage: fromEnd ? before !== undefined : found.hasMore,
      hasPreviousPage: fromEnd ? found.hasMore : after !== undefined || orders.length < found.orders.length,
    };
  }

  /**
   * Updates status, tracking, notes, metadata (merged) and the shipping
   * address (replaced). The row is locked (`SELECT … FOR UPDATE`) for the
   * transaction, so concurrent updates of one order queue and none is lost.
   * Setting the current status again is a no-op; other moves follow §4.
   */
  updateOrder(ctx: RequestContext, id: string, request: unknown, condition?: UpdateCondition): Promise<Order> {
    return this.changes.track(this.update(ctx, id, request, condition));
  }

  /**
   * Waits for the creates and updates in flight. A shutdown calls it after
   * the HTTP server has closed and before the relay stops: a request whose
   * client went away still runs to its commit, after the server no longer
   * counts it, and its event must reach a running relay. Handed to a stopped
   * one, a create's event would keep its lease (30 s) and wait that long for
   * any relay.
   */
  async settle(): Promise<void> {
    await this.changes.settle();
  }

  /** Creates and updates in flight (tests). */
  get changesInFlight(): number {
    return this.changes.size;
  }

  private async update(
    ctx: RequestContext,
    id: string,
    request: unknown,
    condition: UpdateCondition | undefined,
  ): Promise<Order> {
    // With a condition, the body is read once the condition holds: a request whose condition fails is
    // 412 whatever its body (RFC 9110 §13.2.2 evaluates conditions before the content is processed).
    const parsed = condition ? undefined : parseUpdateOrderRequest(request);
    assertCouldExist(id, isOrderId);
    const { updated, evented } = await this.em.fork().transactional(async (em) => {
      const orders = em.getRepository(OrderEntity);
      const order = await orders.findForUpdate(ctx.workspaceId, id);
      if (!order) throw AppError.notFound(`Order ${id}`);
      // Under the row lock: of two writers that read one version, the second sees the first's.
      if (condition) assertConditionHolds(condition, order.version);
      const changes = parsed ?? parseUpdateOrderRequest(request);
      // The fields this update really changed, in the REST names its events list them under.
      const changed: string[] = [];
      const previousStatus = order.status;
      const moves =
        changes.status !== undefined && changes.status !== order.status ? changes.status : undefined;
      if (moves) assertStatusMove(order.status, moves);
      const assign = <K extends 'trackingNumber' | 'trackingUrl' | 'notes' | 'metadata' | 'shippingAddress'>(
        key: K,
        value: OrderEntity[K] | undefined,
      ) => {
        // Structural: a stored object comes back with jsonb's key order, and an exact number with its spelling.
        if (value === undefined || jsonEqual(order[key] ?? null, value)) return;
        order[key] = value;
        changed.push(REST_FIELD_NAMES[key]);
      };
      assign('trackingNumber', changes.trackingNumber);
      assign('trackingUrl', changes.trackingUrl);
      assign('notes', changes.notes);
      assign('shippingAddress', changes.shippingAddress);
      if (changes.metadata !== undefined) assign('metadata', mergeMetadata(order.metadata, changes.metadata));
      if (moves) changed.unshift('status');
      if (changed.length > 0) {
        // The database's clock, under the row lock: see `changeTime` and `syncHorizon`.
        const now = await orders.changeTime(order.updatedAt);
        if (moves) {
          order.status = moves;
          order.statusHistory = [...order.statusHistory, { status: moves, timestamp: now.toISOString() }];
        }
        order.updatedAt = now;
        order.version += 1;
      }
      await em.flush();
      const whole = await orders.findWhole(ctx.workspaceId, { id });
      if (!whole) throw new Error(`Order ${id} vanished inside its own transaction`);
      // Only a change that changed something is an event; an empty or repeated update is not.
      if (changed.length === 0 || !this.events) return { updated: whole, evented: false };
      const statusMoved = changed.includes('status') ? previousStatus : undefined;
      await orders.appendEvents(
        ctx.workspaceId,
        id,
        withTrace(this.events.updated(whole, order.version, changed, statusMoved), ctx.trace),
        !this.relay,
      );
      return { updated: whole, evented: true };
    });
    if (evented) this.relay?.wake();
    return updated;
  }
}

/** 412 `PRECONDITION_FAILED`, carrying the order's current version, when `condition` does not hold for it. */
function assertConditionHolds(condition: UpdateCondition, version: number): void {
  if (condition.ifMatch === '*' || condition.ifMatch.includes(version)) return;
  throw AppError.preconditionFailed(
    `The order has changed since the version you read: it is at version ${version} now. Read it again, ` +
      'and send your change with its current version',
    version,
  );
}
