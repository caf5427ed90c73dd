/**
 * Order numbers: `ORD-YYYY-MMDD-NNN`, from a per-workspace counter per
 * calendar day in the workspace's time zone.
 */
const dayFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Each zone's last answer, for the UTC minute it was asked in: every create asks for the day
 * of "now", and formatting costs about 10 µs. A local day starts on a whole UTC minute
 * wherever offsets are whole minutes, which every zone's have been since 1972.
 */
const lastDays = new Map<string, { minute: number; day: string }>();

/** The calendar date of `instant` in `timeZone`, as `YYYY-MM-DD`. */
export function localDay(instant: Date, timeZone: string): string {
  const minute = Math.floor(instant.getTime() / 60_000);
  const last = lastDays.get(timeZone);
  if (last?.minute === minute) return last.day;
  const day = formatDay(instant, timeZone);
  lastDays.set(timeZone, { minute, day });
  return day;
}

function formatDay(instant: Date, timeZone: string): string {
  let formatter = dayFormatters.get(timeZone);
  if (!formatter) {
    // en-CA formats dates as YYYY-MM-DD.
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    dayFormatters.set(timeZone, formatter);
  }
  return formatter.format(instant);
}

/** `'2025-03-27'` → `'ORD-2025-0327-'`: the part of the number before the sequence. */
export function orderNumberPrefix(day: string): string {
  const [year, month, date] = day.split('-');
  return `ORD-${year}-${month}${date}-`;
}

/**
 * SQL for the number itself, given the prefix parameter and the counter
 * value: at least 3 digits (`ORD-2025-0327-001`), more past 999.
 */
export const ORDER_NUMBER_SQL = `? || lpad(last_value::text, greatest(3, length(last_value::text)), '0')`;

/** `ORD-YYYY-MMDD-` and at least 3 digits, within the column's 32 characters. */
export const ORDER_NUMBER = /^ORD-\d{4}-\d{4}-\d{3,18}$/;

/** True when `value` could be an order number; anything else is "not found" without a query. */
export function isOrderNumber(value: string): boolean {
  return ORDER_NUMBER.test(value);
}
