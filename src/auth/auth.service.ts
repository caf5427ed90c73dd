import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { ulid } from 'ulid';
import { execute, queryOne } from '../db/sql';
import { AppError, ErrorCode } from '../errors/app-error';
import { canonicalTimeZone, isValidTimeZone } from '../shared/time-zone';
import type { RequestContext } from '../orders/order.types';
import { bearerToken, generateApiKey, hashApiKey, looksLikeApiKey, sameHash } from './api-key';
import { ApiKeyCache } from './api-key-cache';
import { ApiKeyEntity } from './api-key.entity';
import { KeyUsageRecorder, type UsageLogger } from './key-usage';
import { WorkspaceEntity } from './workspace.entity';

export interface WorkspaceInfo {
  id: string;
  slug: string;
  timeZone: string;
}

export interface CreatedApiKey {
  id: string;
  /** The secret. It is returned this once and never stored. */
  key: string;
  workspace: string;
  /** True when the workspace did not exist and was created for this key. */
  workspaceCreated: boolean;
}

export interface ApiKeyInfo {
  id: string;
  name: string | null;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface AuthServiceOptions {
  /** How long a successful key lookup is reused, at most 1000 ms (0: no cache). */
  keyCacheTtlMs?: number;
  /** Where failed `last_used_at` writes are reported. */
  log?: UsageLogger;
}

interface KeyRow {
  id: string;
  secret_hash: string;
  workspace_id: string;
  time_zone: string;
  last_used_at: Date | string | null;
}

/** Workspaces and their API keys: creation, listing, revocation, and authenticating a request. */
export class AuthService {
  private readonly keyCache: ApiKeyCache;
  private readonly usage: KeyUsageRecorder;

  constructor(
    private readonly em: EntityManager,
    options: AuthServiceOptions = {},
  ) {
    this.keyCache = new ApiKeyCache(options.keyCacheTtlMs ?? 500);
    this.usage = new KeyUsageRecorder(
      (keyId, at, notBefore) => this.writeLastUsed(keyId, at, notBefore),
      options.log ?? { warn: () => undefined },
    );
  }

  /**
   * Resolves `Authorization: Bearer <key>` to the workspace it belongs to, or
   * throws UNAUTHORIZED. The key is looked up by its hash (the secret itself
   * is never stored or compared), and a successful lookup is cached for
   * under a second, so a revoked key stops working within a second everywhere.
   */
  async authenticate(authorization: string | undefined): Promise<RequestContext> {
    const token = bearerToken(authorization);
    if (!token || !looksLikeApiKey(token)) {
      throw new AppError(ErrorCode.UNAUTHORIZED, 'A valid API key is required: send Authorization: Bearer <key>');
    }
    const hash = hashApiKey(token);
    const cached = this.keyCache.get(hash);
    if (cached) {
      this.usage.record(cached.keyId);
      return cached.context;
    }
    // The entry's TTL counts from here: the answer reflects the key as it was when the query ran.
    const askedAt = this.keyCache.now();
    const row = await queryOne<KeyRow>(
      this.em.fork(),
      `select k.id, k.secret_hash, k.workspace_id, w.time_zone, k.last_used_at
       from api_keys k join workspaces w on w.id = k.workspace_id
       where k.secret_hash = ? and k.revoked_at is null`,
      [hash],
    );
    if (!row || !sameHash(row.secret_hash, hash)) {
      throw new AppError(ErrorCode.UNAUTHORIZED, 'The API key is unknown or has been revoked');
    }
    const context: RequestContext = { workspaceId: row.workspace_id, timeZone: row.time_zone };
    this.keyCache.set(hash, { keyId: row.id, context }, askedAt);
    this.usage.record(row.id, row.last_used_at === null ? null : new Date(row.last_used_at));
    return context;
  }

  /** Waits for `last_used_at` writes in flight; call before closing the database. */
  async settle(): Promise<void> {
    await this.usage.settle();
  }

  private async writeLastUsed(keyId: string, at: Date, notBefore: Date): Promise<void> {
    await execute(this.em.fork(), 'update api_keys set last_used_at = ? where id = ? and (last_used_at is null or last_used_at < ?)', [
      at,
      keyId,
      notBefore,
    ]);
  }

  /**
   * Creates a workspace. Its time zone must be one PostgreSQL knows as well as the runtime:
   * order numbers are dated with the runtime's zone data, the list's calendar-day bounds with
   * PostgreSQL's, and a zone only the runtime knows (`US/Pacific-New`, an alias it still
   * takes) made every day-bounded list of the workspace fail. The zone is stored under
   * PostgreSQL's spelling of the name given (`asia/jakarta` → `Asia/Jakarta`), or else of the
   * runtime's canonical name for it (`US/Pacific-New` → `America/Los_Angeles`).
   */
  async createWorkspace(slug: string, timeZone = 'UTC'): Promise<WorkspaceInfo> {
    const made = await this.makeWorkspace(slug, timeZone);
    if (!made) throw AppError.validation([{ path: ['slug'], message: `"${slug}" is already taken` }]);
    return made;
  }

  /**
   * `createWorkspace`, but undefined when the slug is taken. The unique constraint decides, so
   * two concurrent creates (from any processes) cannot both win.
   */
  private async makeWorkspace(slug: string, timeZone: string): Promise<WorkspaceInfo | undefined> {
    checkWorkspaceInput(slug, timeZone);
    const zone = await this.databaseTimeZone([timeZone, canonicalTimeZone(timeZone) ?? timeZone]);
    if (zone === undefined) {
      throw AppError.validation([
        { path: ['timezone'], message: 'must be an IANA time zone such as Asia/Jakarta (the database does not know this one)' },
      ]);
    }
    const workspace = { id: `ws_${ulid()}`, slug, timeZone: zone };
    try {
      await this.em.fork().insert(WorkspaceEntity, { ...workspace, createdAt: new Date() });
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) return undefined;
      throw error;
    }
    return workspace;
  }

  /** PostgreSQL's name for the first of `names` it knows (matched as it matches them, ignoring case). */
  private async databaseTimeZone(names: string[]): Promise<string | undefined> {
    for (const name of names) {
      const row = await queryOne<{ name: string }>(
        this.em.fork(),
        'select name from pg_timezone_names where lower(name) = lower(?) order by name = ? desc, name limit 1',
        [name, name],
      );
      if (row) return row.name;
    }
    return undefined;
  }

  async hasAnyWorkspace(): Promise<boolean> {
    return (await this.em.fork().count(WorkspaceEntity, {})) > 0;
  }

  /** Every workspace, oldest first, with how many of its keys are active. */
  async listWorkspaces(): Promise<(WorkspaceInfo & { createdAt: Date; activeKeys: number })[]> {
    const rows = await this.em.fork().execute<{ id: string; slug: string; time_zone: string; created_at: Date | string; active_keys: number }[]>(
      `select w.id, w.slug, w.time_zone, w.created_at,
              (select count(*)::int from api_keys k where k.workspace_id = w.id and k.revoked_at is null) as active_keys
       from workspaces w order by w.created_at, w.slug`,
    );
    return rows.map((row) => ({
      id: row.id,
      slug: row.slug,
      timeZone: row.time_zone,
      createdAt: new Date(row.created_at),
      activeKeys: row.active_keys,
    }));
  }

  async findWorkspace(slug: string): Promise<WorkspaceInfo | undefined> {
    const workspace = await this.em.fork().findOne(WorkspaceEntity, { slug });
    return workspace ? { id: workspace.id, slug: workspace.slug, timeZone: workspace.timeZone } : undefined;
  }

  /** Creates a key for the workspace, creating the workspace (in UTC) when it does not exist yet. */
  async createApiKey(workspaceSlug: string, name?: string): Promise<CreatedApiKey> {
    // Checked before a missing workspace is made, so that a refused key leaves nothing behind.
    if (name !== undefined && [...name].length > API_KEY_NAME_MAX) {
      throw AppError.validation([{ path: ['name'], message: `must be at most ${API_KEY_NAME_MAX} characters` }]);
    }
    const existing = await this.findWorkspace(workspaceSlug);
    // Made by another process since the look above (two `apikey create` at once): it is the one.
    const made = existing ? undefined : await this.makeWorkspace(workspaceSlug, 'UTC');
    const workspace = existing ?? made ?? (await this.findWorkspace(workspaceSlug));
    if (!workspace) throw new Error(`Workspace ${workspaceSlug} was neither found nor made`);
    const generated = generateApiKey();
    const em = this.em.fork();
    const key = em.create(ApiKeyEntity, {
      id: `key_${ulid()}`,
      workspace: workspace.id,
      name: name ?? null,
      prefix: generated.prefix,
      secretHash: generated.hash,
    });
    await em.flush();
    return { id: key.id, key: generated.secret, workspace: workspace.slug, workspaceCreated: made !== undefined };
  }

  async listApiKeys(workspaceSlug: string): Promise<ApiKeyInfo[]> {
    const workspace = await this.findWorkspace(workspaceSlug);
    if (!workspace) throw AppError.notFound(`Workspace "${workspaceSlug}"`);
    const keys = await this.em.fork().find(ApiKeyEntity, { workspace: workspace.id }, { orderBy: { createdAt: 'asc' } });
    return keys.map((key) => ({
      id: key.id,
      name: key.name ?? null,
      prefix: key.prefix,
      createdAt: key.createdAt,
      lastUsedAt: key.lastUsedAt ?? null,
      revokedAt: key.revokedAt ?? null,
    }));
  }

  /** Revokes a key. Revoking a key twice is harmless and keeps the first revocation time. */
  async revokeApiKey(id: string): Promise<void> {
    const em = this.em.fork();
    const key = await em.findOne(ApiKeyEntity, { id });
    if (!key) throw AppError.notFound(`API key ${id}`);
    key.revokedAt ??= new Date();
    await em.flush();
    // Other processes drop it when their cache entry expires (under a second).
    this.keyCache.deleteKey(id);
  }
}

/** The length of `api_keys.name`. */
const API_KEY_NAME_MAX = 200;

function checkWorkspaceInput(slug: string, timeZone: string): void {
  const errors = [];
  if (!SLUG.test(slug)) {
    errors.push({ path: ['slug'], message: 'must be 1 to 63 lower-case letters, digits or dashes, starting with a letter or digit' });
  }
  if (!isValidTimeZone(timeZone)) errors.push({ path: ['timezone'], message: 'must be an IANA time zone such as Asia/Jakarta' });
  if (errors.length > 0) throw AppError.validation(errors);
}
