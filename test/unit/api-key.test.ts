import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PREFIX,
  bearerToken,
  generateApiKey,
  hashApiKey,
  looksLikeApiKey,
} from '../../src/auth/api-key';

const VALID = `ogk_${'A'.repeat(20)}abcdefghij0123456789-_z`;

describe('generateApiKey', () => {
  it('makes a secret of ogk_ and 43 base64url characters', () => {
    const { secret } = generateApiKey();
    expect(API_KEY_PREFIX).toBe('ogk_');
    expect(secret).toMatch(/^ogk_[A-Za-z0-9_-]{43}$/);
    expect(secret).toHaveLength(47);
  });

  it('shows the first 12 characters of the secret as its prefix', () => {
    const { secret, prefix } = generateApiKey();
    expect(prefix).toHaveLength(12);
    expect(prefix.startsWith('ogk_')).toBe(true);
    expect(secret.startsWith(prefix)).toBe(true);
  });

  it('stores the SHA-256 hex digest of the secret', () => {
    const { secret, hash } = generateApiKey();
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(hash).toBe(hashApiKey(secret));
  });

  it('makes a different key each time', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.secret).not.toBe(b.secret);
    expect(a.hash).not.toBe(b.hash);
  });

  it('makes keys that looksLikeApiKey recognises', () => {
    expect(looksLikeApiKey(generateApiKey().secret)).toBe(true);
  });
});

describe('hashApiKey', () => {
  it('is SHA-256 in lower-case hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer ogk_abc', 'ogk_abc'],
    ['bearer ogk_abc', 'ogk_abc'],
    ['BEARER ogk_abc', 'ogk_abc'],
    ['BeArEr ogk_abc', 'ogk_abc'],
    ['Bearer   ogk_abc', 'ogk_abc'],
    ['Bearer ogk_abc  ', 'ogk_abc'],
    [`Bearer ${VALID}`, VALID],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Bearer    ',
    'Bearerogk_abc',
    'Basic dXNlcjpwYXNz',
    'Token ogk_abc',
    'Bearer ogk_abc extra',
    ' Bearer ogk_abc',
    'ogk_abc',
    'Bearer\togk_abc',
  ])('returns undefined for %j', (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });
});

describe('looksLikeApiKey', () => {
  it('accepts ogk_ and 43 base64url characters', () => {
    expect(VALID).toHaveLength(47);
    expect(looksLikeApiKey(VALID)).toBe(true);
  });

  it.each([
    ['42 characters after the prefix', `ogk_${'a'.repeat(42)}`],
    ['44 characters after the prefix', `ogk_${'a'.repeat(44)}`],
    ['an upper-case prefix', `OGK_${'a'.repeat(43)}`],
    ['another prefix', `sk_${'a'.repeat(44)}`],
    ['a + (plain base64)', `ogk_${'a'.repeat(42)}+`],
    ['a / (plain base64)', `ogk_${'a'.repeat(42)}/`],
    ['= padding', `ogk_${'a'.repeat(42)}=`],
    ['a trailing newline', `ogk_${'a'.repeat(43)}\n`],
    ['a leading space', ` ogk_${'a'.repeat(43)}`],
    ['the empty string', ''],
  ])('rejects a key with %s', (_label, value) => {
    expect(looksLikeApiKey(value)).toBe(false);
  });
});
