/** True for an IANA time zone this runtime knows, such as `Asia/Jakarta`. */
export function isValidTimeZone(timeZone: string): boolean {
  return canonicalTimeZone(timeZone) !== undefined;
}

/**
 * The runtime's canonical name of a time zone it knows (`asia/jakarta` →
 * `Asia/Jakarta`, `US/Pacific-New` → `America/Los_Angeles`), or undefined.
 */
export function canonicalTimeZone(timeZone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
