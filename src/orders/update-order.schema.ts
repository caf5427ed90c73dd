/**
 * An update-order request, in the contract's names. Every field is optional;
 * `null` clears a field (for `metadata`, a key set to `null` is removed),
 * except `status`, which an order always has: there `null` keeps it, like
 * leaving it out (README, "null for an optional field").
 */
import { type Static, Type } from '@sinclair/typebox';
import { AddressSchema, LIMITS, nullable } from './create-order.schema';
import { ORDER_STATUSES } from './order.types';

export const UPDATE_LIMITS = { trackingNumber: 255, trackingUrl: 2048 } as const;

export const UpdateOrderRequestSchema = Type.Object(
  {
    status: Type.Optional(
      Type.Unsafe<(typeof ORDER_STATUSES)[number] | null>({
        type: ['string', 'null'],
        enum: [...ORDER_STATUSES, null],
        description: 'The status to move to; null keeps the current one, like leaving it out',
      }),
    ),
    tracking_number: nullable(Type.String({ maxLength: UPDATE_LIMITS.trackingNumber })),
    tracking_url: nullable(
      Type.String({ maxLength: UPDATE_LIMITS.trackingUrl, description: 'An http(s) URL' }),
    ),
    notes: nullable(Type.String({ maxLength: LIMITS.notes })),
    metadata: nullable(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'Merged key by key into the stored metadata; a key set to null is removed',
        },
      ),
    ),
    shipping_address: nullable(AddressSchema),
  },
  { additionalProperties: false },
);

export type UpdateOrderRequest = Static<typeof UpdateOrderRequestSchema>;
