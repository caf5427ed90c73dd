import type { CloudEvent } from './order-events';

/** Somewhere events go. A publish that throws leaves the event pending; the relay tries it again later. */
export interface EventPublisher {
  readonly name: string;
  publish(event: CloudEvent, body: Uint8Array): Promise<void>;
  /**
   * Gets ready before the first event, when the relay starts (NATS: connects and makes the stream, so
   * that a consumer can be added before anything is published). After a failure it keeps trying in the
   * background, and every publish tries too.
   */
  prepare?(): Promise<void>;
  close(): Promise<void>;
}
