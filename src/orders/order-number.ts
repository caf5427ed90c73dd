/**
 * Order numbers: `ORD-YYYY-MMDD-NNN`, from a per-workspace counter per
 * calendar day in the workspace's time zone.
 */
import type { EntityManager } from '@mikro-orm/postgresql';

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date of `instant` in `timeZone`, as `YYYY-MM-DD`. */
export function localDay(instant: Date, timeZone: string): string {
  let formatter = dayFormatters.get(timeZone);
  if (!formatter) {
    // en-CA formats dates as YYYY-MM-DD.
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormatters.set(timeZone, formatter);
  }
  return formatter.format(instant);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** `('2025-03-27', 1)` → `ORD-2025-0327-001`; the sequence grows past 999 as needed. */
export function formatOrderNumber(day: string, sequence: number): string {
  const [year, month, date] = day.split('-');
  return `ORD-${year}-${month}${date}-${String(sequence).padStart(3, '0')}`;
}

/**
 * Takes the next number for the workspace's day. Must run inside the order's
 * transaction: the upsert locks the counter row until commit, so concurrent
 * creates (in any process) queue on it and get consecutive numbers, and a
 * create that rolls back gives its number back.
 */
export async function nextOrderNumber(em: EntityManager, workspaceId: string, day: string): Promise<string> {
  const row = await em.execute<{ last_value: number }>(
    `insert into order_number_counters (workspace_id, day, last_value) values (?, ?, 1)
     on conflict (workspace_id, day) do update set last_value = order_number_counters.last_value + 1
     returning last_value`,
    [workspaceId, day],
    'get',
  );
  return formatOrderNumber(day, row.last_value);
}
