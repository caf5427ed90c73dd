import type { CloudEvent } from './order-events';

/** Somewhere events go. A publish that throws leaves the event pending; the relay tries it again later. */
export interface EventPublisher {
  readonly name: string;
  publish(event: CloudEvent, body: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
