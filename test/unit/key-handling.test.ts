import { describe, expect, it, vi } from 'vitest';
import { generateApiKey, hashApiKey, sameHash } from '../../src/auth/api-key';
import { ApiKeyCache } from '../../src/auth/api-key-cache';
import { KeyUsageRecorder, type UsageWriter } from '../../src/auth/key-usage';

const context = { workspaceId: 'ws_1', timeZone: 'UTC' };

describe('sameHash', () => {
  it('is true only for the same 32-byte hash', () => {
    const hash = hashApiKey(generateApiKey().secret);
    expect(sameHash(hash, hash)).toBe(true);
    expect(sameHash(hash, `${hash.slice(0, 63)}${hash.endsWith('0') ? '1' : '0'}`)).toBe(false);
    expect(sameHash(hash, hashApiKey(generateApiKey().secret))).toBe(false);
    expect(sameHash(hash, hash.slice(0, 62))).toBe(false);
    expect(sameHash(hash, '')).toBe(false);
    expect(sameHash('zz', 'zz')).toBe(false);
  });
});

describe('ApiKeyCache', () => {
  it('keeps a lookup for its TTL only', () => {
    let now = 1000;
    const cache = new ApiKeyCache(500, 10, () => now);
    cache.set('h1', { keyId: 'key_1', context });
    now = 1499;
    expect(cache.get('h1')).toMatchObject({ keyId: 'key_1', context });
    now = 1500;
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('forgets a key at once on revocation', () => {
    const cache = new ApiKeyCache(1000);
    cache.set('h1', { keyId: 'key_1', context });
    cache.set('h2', { keyId: 'key_2', context });
    cache.deleteKey('key_1');
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toBeDefined();
  });

  it('is bounded, dropping the oldest entry first', () => {
    const cache = new ApiKeyCache(1000, 2);
    cache.set('h1', { keyId: 'key_1', context });
    cache.set('h2', { keyId: 'key_2', context });
    cache.set('h3', { keyId: 'key_3', context });
    expect(cache.size).toBe(2);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h3')).toBeDefined();
  });

  it('caches nothing with a TTL of 0, and refuses a TTL over a second', () => {
    const cache = new ApiKeyCache(0);
    cache.set('h1', { keyId: 'key_1', context });
    expect(cache.get('h1')).toBeUndefined();
    expect(() => new ApiKeyCache(1001)).toThrow(RangeError);
  });
});

describe('KeyUsageRecorder', () => {
  it('writes at most once per key per interval, without waiting for the write', async () => {
    let now = 0;
    const write = vi.fn<UsageWriter>(async () => undefined);
    const recorder = new KeyUsageRecorder(write, { warn: vi.fn() }, 60_000, () => now);
    for (let i = 0; i < 10; i++) recorder.record('key_1');
    recorder.record('key_2');
    now = 59_999;
    recorder.record('key_1');
    now = 60_000;
    recorder.record('key_1');
    await recorder.settle();
    expect(write.mock.calls.map(([keyId, at, notBefore]) => [keyId, at.getTime(), notBefore.getTime()])).toStrictEqual([
      ['key_1', 0, -60_000],
      ['key_2', 0, -60_000],
      ['key_1', 60_000, 0],
    ]);
  });

  it('skips the write when the stored value is recent', async () => {
    const write = vi.fn<UsageWriter>(async () => undefined);
    const recorder = new KeyUsageRecorder(write, { warn: vi.fn() }, 60_000, () => 100_000);
    recorder.record('key_1', new Date(70_000));
    recorder.record('key_1');
    recorder.record('key_2', new Date(10_000));
    await recorder.settle();
    expect(write.mock.calls.map(([keyId]) => keyId)).toStrictEqual(['key_2']);
  });

  it('logs a failed write instead of throwing', async () => {
    const warn = vi.fn();
    const recorder = new KeyUsageRecorder(async () => Promise.reject(new Error('database down')), { warn });
    expect(() => recorder.record('key_1')).not.toThrow();
    await recorder.settle();
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ keyId: 'key_1', err: expect.any(Error) }), 'could not record the use of an API key');
  });
});
