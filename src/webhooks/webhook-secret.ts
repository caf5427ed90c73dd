/**
 * A webhook endpoint's signing secret (Standard Webhooks: `whsec_` + base64 of
 * random bytes) and how long a rotated-out one keeps signing beside the new one
 * (`WebhookService.rotateSecret`). No imports beyond Node's: GraphQL's
 * descriptions and the CLI's defaults read these figures too.
 */
import { randomBytes } from 'node:crypto';

/** How long a rotated-out secret signs beside the new one, by default and at most (seconds). */
export const DEFAULT_PREVIOUS_SECRET_SECONDS = 24 * 60 * 60;
export const MAX_PREVIOUS_SECRET_SECONDS = 7 * 24 * 60 * 60;

export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
