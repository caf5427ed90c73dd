/**
 * Idempotency keys (contract §6) as pure rules: which keys are accepted, when two requests are
 * "the same request", and what a stored key answers (new, replay, reused, in progress). The
 * database side (the advisory lock, the stored row) is a fake here; test/http/idempotency.test.ts
 * runs it for real. Written after mutation testing (`npm run mutation`) found none of these
 * rules under a unit test.
 */
import { describe, expect, it, vi } from 'vitest';
import type { IdempotencyKeyRepository, StoredKey } from '../../src/orders/idempotency-key.repository';
import {
  checkIdempotencyKey,
  claimKey,
  fingerprint,
  idempotencyLockId,
  legacyFingerprint,
} from '../../src/orders/idempotency';
import type { Order } from '../../src/orders/order.types';
import { ExactNumber } from '../../src/shared/exact-json';
import { caught, rejected } from '../support/app-errors';

describe('checkIdempotencyKey: 1 to 255 visible ASCII characters', () => {
  it.each(['a', '!', '~', 'x'.repeat(255), 'order-2026-12-07_01', '{"k":1}'])('accepts %j', (key) => {
    expect(() => checkIdempotencyKey(key)).not.toThrow();
  });

  it.each([
    ['empty', ''],
    ['256 characters', 'x'.repeat(256)],
    ['a space', 'a b'],
    ['a leading space', ' a'],
    ['a tab', 'a\tb'],
    ['DEL', 'a\x7f'],
    ['a non-ASCII letter', 'café'],
    ['a line break at the end', 'abc\n'],
  ])('refuses %s with VALIDATION_ERROR on idempotency_key', (_name, key) => {
    const error = caught(() => checkIdempotencyKey(key));
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toStrictEqual([
      { path: ['idempotency_key'], message: 'must be 1 to 255 visible ASCII characters' },
    ]);
  });
});

describe('fingerprint', () => {
  it('is a SHA-256 hex digest, the same whatever the key order', () => {
    const a = fingerprint({ customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 10 }], total: 10 });
    const b = fingerprint({ total: 10, items: [{ price: 10, quantity: 1, product_id: 'p' }], customer_id: 'c' });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).toBe(b);
  });

  it('differs for any change a user makes: a value, an item order, a field added', () => {
    const base = { items: [{ product_id: 'a' }, { product_id: 'b' }], total: 10 };
    const seen = new Set([
      fingerprint(base),
      fingerprint({ ...base, total: 11 }),
      fingerprint({ ...base, total: '10' }),
      fingerprint({ ...base, items: [...base.items].reverse() }),
      fingerprint({ ...base, notes: 'x' }),
    ]);
    expect(seen.size).toBe(5);
  });

  it('reads a bigint as its digits, and keeps an exact number apart from the string of its literal', () => {
    expect(fingerprint({ minor: 12n })).toBe(fingerprint({ minor: '12' }));
    const literal = '12345678901234567890';
    expect(fingerprint({ total: new ExactNumber(literal) })).not.toBe(fingerprint({ total: literal }));
    expect(fingerprint({ total: new ExactNumber(literal) })).toBe(fingerprint({ total: new ExactNumber(literal) }));
  });

  it('tells apart exact numbers inside arrays and nested objects', () => {
    const literal = '1e400';
    expect(fingerprint({ m: [new ExactNumber(literal)] })).not.toBe(fingerprint({ m: [literal] }));
    expect(fingerprint({ m: { n: new ExactNumber(literal) } })).not.toBe(fingerprint({ m: { n: literal } }));
  });
});

describe('legacyFingerprint', () => {
  const identity = (request: unknown) => request;

  it('is undefined for a request without exact numbers (the fingerprint is the same then)', () => {
    expect(legacyFingerprint({ total: 10 }, identity)).toBeUndefined();
  });

  it('reads exact numbers as the strings of their literals, as versions before 2611ab1 did', () => {
    const request = { total: new ExactNumber('1e21'), items: [{ price: new ExactNumber('1e21') }] };
    expect(legacyFingerprint(request, identity)).toBe(fingerprint({ total: '1e21', items: [{ price: '1e21' }] }));
  });

  it('fingerprints what the parser makes of that request', () => {
    const parse = vi.fn((request: unknown) => ({ parsed: request }));
    const request = { total: new ExactNumber('1e21') };
    expect(legacyFingerprint(request, parse)).toBe(fingerprint({ parsed: { total: '1e21' } }));
    expect(parse).toHaveBeenCalledWith({ total: '1e21' });
  });

  it('is undefined when those versions refused the request', () => {
    const refuse = () => {
      throw new Error('refused');
    };
    expect(legacyFingerprint({ total: new ExactNumber('1e21') }, refuse)).toBeUndefined();
  });
});

describe('idempotencyLockId', () => {
  it('is a signed 64-bit integer, the same for the same workspace and key', () => {
    const id = idempotencyLockId('ws_1', 'key-1');
    expect(id).toMatch(/^-?\d+$/);
    expect(BigInt(id)).toBeGreaterThanOrEqual(-(2n ** 63n));
    expect(BigInt(id)).toBeLessThan(2n ** 63n);
    expect(idempotencyLockId('ws_1', 'key-1')).toBe(id);
  });

  it('differs between workspaces and between keys, however the two are split', () => {
    const ids = new Set([
      idempotencyLockId('ws_1', 'key-1'),
      idempotencyLockId('ws_2', 'key-1'),
      idempotencyLockId('ws_1', 'key-2'),
      idempotencyLockId('ab', 'c'),
      idempotencyLockId('a', 'bc'),
    ]);
    expect(ids.size).toBe(5);
  });
});

describe('claimKey', () => {
  const order = { id: 'order_1' } as unknown as Order;

  function keys(stored: StoredKey | undefined, options: { locked?: boolean; beforeUpgrade?: boolean } = {}) {
    return {
      tryLock: vi.fn(async () => options.locked !== true),
      findStored: vi.fn(async () => stored),
      forget: vi.fn(async () => undefined),
      storedBeforeUpgrade: vi.fn(async () => options.beforeUpgrade === true),
    };
  }
  const claim = (repository: ReturnType<typeof keys>, requestFingerprint: string, legacy?: string) =>
    claimKey(repository as unknown as IdempotencyKeyRepository, 'ws_1', 'key-1', requestFingerprint, legacy);

  it('locks the workspace key, and a new key is new', async () => {
    const repository = keys(undefined);
    await expect(claim(repository, 'f1')).resolves.toStrictEqual({ kind: 'new' });
    expect(repository.tryLock).toHaveBeenCalledWith(idempotencyLockId('ws_1', 'key-1'));
    expect(repository.findStored).toHaveBeenCalledWith('ws_1', 'key-1');
  });

  it('answers IDEMPOTENCY_REQUEST_IN_PROGRESS, retry after 1 s, while another request holds the key', async () => {
    const repository = keys({ fingerprint: 'f1', order, live: true }, { locked: true });
    const error = await rejected(() => claim(repository, 'f1'));
    expect(error.code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toBe('A request with this idempotency key is still being processed; retry after it finishes');
    expect(repository.findStored).not.toHaveBeenCalled();
  });

  it('replays the stored order for the same request', async () => {
    const repository = keys({ fingerprint: 'f1', order, live: true });
    await expect(claim(repository, 'f1')).resolves.toStrictEqual({ kind: 'replay', order });
    expect(repository.forget).not.toHaveBeenCalled();
  });

  it('forgets an expired key and takes the request as new', async () => {
    const repository = keys({ fingerprint: 'other', order, live: false });
    await expect(claim(repository, 'f1')).resolves.toStrictEqual({ kind: 'new' });
    expect(repository.forget).toHaveBeenCalledWith('ws_1', 'key-1');
  });

  it('answers IDEMPOTENCY_KEY_REUSED for a different request under a live key', async () => {
    const repository = keys({ fingerprint: 'f1', order, live: true });
    const error = await rejected(() => claim(repository, 'f2'));
    expect(error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(error.message).toBe(
      'This idempotency key was already used for a different request; use a new key for a new order',
    );
    expect(repository.storedBeforeUpgrade).not.toHaveBeenCalled();
  });

  it('replays a key stored before the upgrade under the legacy fingerprint', async () => {
    const repository = keys({ fingerprint: 'legacy', order, live: true }, { beforeUpgrade: true });
    await expect(claim(repository, 'f1', 'legacy')).resolves.toStrictEqual({ kind: 'replay', order });
    expect(repository.storedBeforeUpgrade).toHaveBeenCalledWith('ws_1', 'key-1');
  });

  it('does not take the legacy fingerprint from a key stored after the upgrade, nor a legacy one that differs', async () => {
    const after = keys({ fingerprint: 'legacy', order, live: true }, { beforeUpgrade: false });
    expect((await rejected(() => claim(after, 'f1', 'legacy'))).code).toBe('IDEMPOTENCY_KEY_REUSED');
    const otherLegacy = keys({ fingerprint: 'legacy', order, live: true }, { beforeUpgrade: true });
    expect((await rejected(() => claim(otherLegacy, 'f1', 'legacy-2'))).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});
