import { describe, expect, it } from 'vitest';
import { localDay, orderNumberPrefix } from '../../src/orders/order-number';
import { isValidTimeZone } from '../../src/shared/time-zone';

describe('orderNumberPrefix', () => {
  it('is ORD-YYYY-MMDD- for the day', () => {
    expect(orderNumberPrefix('2025-03-27')).toBe('ORD-2025-0327-');
  });
});

describe('localDay', () => {
  const evening = new Date('2025-03-27T20:00:00Z');

  it.each([
    ['Asia/Jakarta', '2025-03-28'],
    ['UTC', '2025-03-27'],
    ['America/New_York', '2025-03-27'],
    ['Asia/Tokyo', '2025-03-28'],
    ['Europe/London', '2025-03-27'],
  ])('puts 2025-03-27T20:00:00Z on the calendar of %s as %s', (timeZone, expected) => {
    expect(localDay(evening, timeZone)).toBe(expected);
  });

  it('switches the Jakarta day (UTC+7) exactly at 17:00 UTC', () => {
    expect(localDay(new Date('2025-03-27T16:59:59.999Z'), 'Asia/Jakarta')).toBe('2025-03-27');
    expect(localDay(new Date('2025-03-27T17:00:00.000Z'), 'Asia/Jakarta')).toBe('2025-03-28');
  });

  it('answers again within a minute, and turns the day at the minute it turns, even at a 45-minute offset', () => {
    // Kathmandu is UTC+5:45: its day starts at 18:15 UTC. Each zone remembers its last minute's answer.
    expect(localDay(new Date('2025-03-27T18:14:00.000Z'), 'Asia/Kathmandu')).toBe('2025-03-27');
    expect(localDay(new Date('2025-03-27T18:14:59.999Z'), 'Asia/Kathmandu')).toBe('2025-03-27');
    expect(localDay(new Date('2025-03-27T18:15:00.000Z'), 'Asia/Kathmandu')).toBe('2025-03-28');
    expect(localDay(new Date('2025-03-27T18:15:30.000Z'), 'UTC')).toBe('2025-03-27');
    expect(localDay(new Date('2025-03-27T18:15:59.000Z'), 'Asia/Kathmandu')).toBe('2025-03-28');
    expect(localDay(new Date('2025-03-27T18:14:30.000Z'), 'Asia/Kathmandu')).toBe('2025-03-27');
  });

  it('puts an early-UTC instant on the previous day west of Greenwich', () => {
    const morning = new Date('2025-03-27T03:00:00Z');
    expect(localDay(morning, 'America/New_York')).toBe('2025-03-26');
    expect(localDay(morning, 'UTC')).toBe('2025-03-27');
  });

  it('spans three calendar days across the date line at one instant', () => {
    const instant = new Date('2025-03-27T10:30:00Z');
    expect(localDay(instant, 'Pacific/Pago_Pago')).toBe('2025-03-26');
    expect(localDay(instant, 'UTC')).toBe('2025-03-27');
    expect(localDay(instant, 'Pacific/Kiritimati')).toBe('2025-03-28');
  });

  it('follows daylight saving time (New York is UTC−4 after 9 March 2025)', () => {
    expect(localDay(new Date('2025-03-28T03:59:59Z'), 'America/New_York')).toBe('2025-03-27');
    expect(localDay(new Date('2025-03-28T04:00:00Z'), 'America/New_York')).toBe('2025-03-28');
  });

  it('crosses a year boundary', () => {
    const instant = new Date('2024-12-31T18:00:00Z');
    expect(localDay(instant, 'UTC')).toBe('2024-12-31');
    expect(localDay(instant, 'Asia/Jakarta')).toBe('2025-01-01');
  });

  it('gives the same answer on repeated calls with a cached formatter', () => {
    expect(localDay(evening, 'Asia/Jakarta')).toBe('2025-03-28');
    expect(localDay(new Date('2025-03-27T01:00:00Z'), 'Asia/Jakarta')).toBe('2025-03-27');
  });
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'Asia/Jakarta', 'America/New_York', 'Europe/London', 'Pacific/Kiritimati'])(
    'accepts %s',
    (timeZone) => {
      expect(isValidTimeZone(timeZone)).toBe(true);
    },
  );

  it.each(['', 'Mars/Olympus_Mons', 'Asia/Atlantis', 'not a zone', 'UTC+25'])('rejects %j', (timeZone) => {
    expect(isValidTimeZone(timeZone)).toBe(false);
  });
});
