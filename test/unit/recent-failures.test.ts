/**
 * Which addresses the in-memory failed-authentication counters may hold
 * (security/rate-limit.ts): an address is skipped only when it certainly has
 * no failures counted.
 */
import { describe, expect, it } from 'vitest';
import { RecentFailures } from '../../src/security/rate-limit';

describe('RecentFailures', () => {
  it('knows an address from its failure until one window after its last failure', () => {
    const recent = new RecentFailures(10, 1000);
    expect(recent.mayHaveFailed('a', 0)).toBe(false);
    recent.add('a', 100);
    expect(recent.mayHaveFailed('a', 100)).toBe(true);
    expect(recent.mayHaveFailed('b', 100)).toBe(false);
    recent.add('a', 600);
    expect(recent.mayHaveFailed('a', 1599)).toBe(true);
    expect(recent.mayHaveFailed('a', 1600)).toBe(false);
    expect(recent.mayHaveFailed('a', 1601)).toBe(false);
  });

  it('makes room by forgetting addresses whose window has ended', () => {
    const recent = new RecentFailures(2, 1000);
    recent.add('a', 0);
    recent.add('b', 500);
    recent.add('c', 1200); // a's window has ended: c takes its place
    expect(recent.mayHaveFailed('a', 1200)).toBe(false);
    expect(recent.mayHaveFailed('b', 1200)).toBe(true);
    expect(recent.mayHaveFailed('c', 1200)).toBe(true);
    expect(recent.mayHaveFailed('unknown', 1200)).toBe(false);
  });

  it('answers "may have failed" for every address while full of live ones, until a window passes with no failure', () => {
    const recent = new RecentFailures(2, 1000);
    recent.add('a', 0);
    recent.add('b', 0);
    recent.add('c', 100); // no room: c is not recorded, so nobody may be skipped
    expect(recent.mayHaveFailed('c', 100)).toBe(true);
    expect(recent.mayHaveFailed('anyone', 1099)).toBe(true);
    recent.add('d', 900); // not recorded either: reading everything lasts a window past it
    expect(recent.mayHaveFailed('d', 1899)).toBe(true);
    expect(recent.mayHaveFailed('anyone', 1899)).toBe(true);
    // Then every failure counted so far has ended, and addresses are told apart again.
    expect(recent.mayHaveFailed('anyone', 1900)).toBe(false);
    recent.add('e', 1900);
    expect(recent.mayHaveFailed('e', 1900)).toBe(true);
    expect(recent.mayHaveFailed('a', 1900)).toBe(false);
    expect(recent.mayHaveFailed('anyone', 1900)).toBe(false);
  });
});
