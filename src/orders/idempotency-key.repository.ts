/**
 * Storage of idempotency keys (see `idempotency.ts` for the rules). Every
 * method runs in the entity manager's transaction, which must be the order's.
 */
import { EntityRepository } from '@mikro-orm/postgresql';
import { execute, queryOne } from '../db/sql';
import type { IdempotencyKeyEntity } from './idempotency.entity';
import type { Order } from './order.types';
import { parseExactJson } from '../shared/exact-json';

/** The order as stored in `response` (JSON: dates are strings). */
type StoredOrder = Omit<Order, 'createdAt' | 'updatedAt' | 'statusHistory' | 'version'> & {
  version?: number;
  createdAt: string;
  updatedAt: string;
  statusHistory: { status: Order['status']; timestamp: string }[];
};

export interface StoredKey {
  fingerprint: string;
  order: Order;
  /** False once the key has expired (it may not have been swept yet). */
  live: boolean;
}

export class IdempotencyKeyRepository extends EntityRepository<IdempotencyKeyEntity> {
  /**
   * Takes the transaction-scoped advisory lock named by `lockId`; false when
   * another transaction holds it. The lock goes with the transaction.
   */
  async tryLock(lockId: string): Promise<boolean> {
    const claim = await queryOne<{ claimed: boolean }>(
      this.em,
      'select pg_try_advisory_xact_lock(?::bigint) as claimed',
      [lockId],
    );
    return claim?.claimed === true;
  }

  /** The finished request stored under the key, if any; `live` by the database's clock. */
  async findStored(workspaceId: string, key: string): Promise<StoredKey | undefined> {
    // As text, parsed here: metadata's numbers stay exact (see `shared/exact-json.ts`).
    const row = await queryOne<{ fingerprint: string; response: string; live: boolean }>(
      this.em,
      'select fingerprint, response::text as response, expires_at > now() as live from idempotency_keys where workspace_id = ? and key = ?',
      [workspaceId, key],
    );
    return (
      row && {
        fingerprint: row.fingerprint,
        order: reviveOrder(parseExactJson(row.response) as StoredOrder),
        live: row.live,
      }
    );
  }

  /**
   * True when the key was stored before Migration20261201170000_sync_order ran on this database:
   * no version that fingerprints exact numbers as such (2611ab1 on) lacks that migration, so only
   * such a key can carry `legacyFingerprint`'s form.
   */
  async storedBeforeUpgrade(workspaceId: string, key: string): Promise<boolean> {
    const row = await queryOne<{ before: boolean }>(
      this.em,
      `select k.created_at < coalesce((select min(executed_at) from mikro_orm_migrations
                                       where name = 'Migration20261201170000_sync_order'), '-infinity') as before
       from idempotency_keys k where k.workspace_id = ? and k.key = ?`,
      [workspaceId, key],
    );
    return row?.before === true;
  }

  async forget(workspaceId: string, key: string): Promise<void> {
    await this.nativeDelete({ workspace: workspaceId, key });
  }

  /** Stores the finished request under its key. */
  async remember(entry: {
    workspaceId: string;
    key: string;
    fingerprint: string;
    order: Order;
    now: Date;
    ttlMs: number;
  }): Promise<void> {
    await this.insert({
      workspace: entry.workspaceId,
      key: entry.key,
      fingerprint: entry.fingerprint,
      order: entry.order.id,
      response: entry.order,
      createdAt: entry.now,
      expiresAt: new Date(entry.now.getTime() + entry.ttlMs),
    });
  }

  /** Deletes expired keys in bounded batches; returns how many went. Safe to run from several processes at once. */
  async sweepExpired(batchSize = 1000, maxBatches = 100): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const count = await execute(
        this.em,
        `delete from idempotency_keys where ctid in (
           select ctid from idempotency_keys where expires_at <= now() limit ? for update skip locked)`,
        [batchSize],
      );
      deleted += count;
      if (count < batchSize) break;
    }
    return deleted;
  }
}

function reviveOrder(stored: StoredOrder): Order {
  return {
    ...stored,
    statusHistory: stored.statusHistory.map((change) => ({
      status: change.status,
      timestamp: new Date(change.timestamp),
    })),
    createdAt: new Date(stored.createdAt),
    updatedAt: new Date(stored.updatedAt),
    // A key remembered before orders carried their version: the answer is the order as created.
    version: stored.version ?? 1,
  };
}
