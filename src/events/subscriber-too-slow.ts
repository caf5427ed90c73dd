/**
 * A subscriber that let MAX_QUEUED events (order-feed.ts) pile up unread: it was cut off, and the events after
 * those never reach it. Its iterator throws this once the queued ones are read, so that the
 * client learns of the gap (a quiet end would look like the server finishing the subscription).
 */
export class SubscriberTooSlowError extends Error {
  override name = 'SubscriberTooSlowError';
  readonly code = 'SUBSCRIBER_TOO_SLOW';

  constructor(readonly queued: number) {
    super(
      `This subscription fell ${queued} events behind and was ended; subscribe again, and read what changed ` +
        'meanwhile from the orders list sorted by updated_at',
    );
  }
}
