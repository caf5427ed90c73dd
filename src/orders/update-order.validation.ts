/** Turns an untrusted update-order request into a checked set of changes. */
import { fullFormats } from 'ajv-formats/dist/formats';
import { AppError, type FieldError } from '../errors/app-error';
import { LIMITS } from './create-order.schema';
import type { Address, JsonObject, OrderStatus } from './order.types';
import { type UpdateOrderRequest, UpdateOrderRequestSchema } from './update-order.schema';
import {
  checkCountry,
  checkMetadata,
  dedupe,
  isObject,
  prepareExactNumbers,
  shapeChecker,
  toAddress,
} from './validation';

/** What an update asks for. `undefined`: leave as is; `null`: clear. */
export interface OrderChanges {
  /** Never `null`: an order always has a status, so a `null` one in the request is left out. */
  status?: OrderStatus;
  trackingNumber?: string | null;
  trackingUrl?: string | null;
  notes?: string | null;
  /** A patch: each key replaces the stored one, a `null` value removes it; `null` as a whole removes all. */
  metadata?: JsonObject | null;
  shippingAddress?: Address | null;
}

const checkShape = shapeChecker(UpdateOrderRequestSchema);

/** RFC 3986's URI (ajv-formats' own check of JSON Schema's `format: uri`). */
const isUri = fullFormats.uri as (value: string) => boolean;

export function parseUpdateOrderRequest(body: unknown): OrderChanges {
  if (!isObject(body)) throw AppError.validation([{ path: ['body'], message: 'must be a JSON object' }]);
  const input = prepareExactNumbers(body);
  const errors: FieldError[] = checkShape(input);
  const urlProblem = typeof input.tracking_url === 'string' ? httpUrlProblem(input.tracking_url) : undefined;
  if (urlProblem) errors.push({ path: ['tracking_url'], message: urlProblem });
  checkCountry(input.shipping_address, ['shipping_address'], errors);
  if (errors.length > 0) throw AppError.validation(dedupe(errors));

  const request = input as UpdateOrderRequest;
  const changes: OrderChanges = {};
  // null means what leaving it out means (README): the status is the one field null cannot clear.
  if (request.status !== undefined && request.status !== null) changes.status = request.status;
  if (request.tracking_number !== undefined) changes.trackingNumber = request.tracking_number;
  if (request.tracking_url !== undefined) changes.trackingUrl = request.tracking_url;
  if (request.notes !== undefined) changes.notes = request.notes;
  if (request.metadata !== undefined) changes.metadata = request.metadata;
  if (request.shipping_address !== undefined)
    changes.shippingAddress = toAddress(request.shipping_address) ?? null;
  return changes;
}

/** Applies a metadata patch and checks the limits on the result. */
export function mergeMetadata(
  current: JsonObject | null | undefined,
  patch: JsonObject | null,
): JsonObject | null {
  if (patch === null) return null;
  // A Map, not `object[key] = …`: a key such as "__proto__" must stay a key.
  const entries = new Map(Object.entries(current ?? {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) entries.delete(key);
    else entries.set(key, value);
  }
  const errors: FieldError[] = [];
  const merged = checkMetadata(Object.fromEntries(entries), errors) ?? {};
  if (Object.keys(merged).length > LIMITS.metadataKeys) {
    errors.push({
      path: ['metadata'],
      message: `would have more than ${LIMITS.metadataKeys} keys after the merge`,
    });
  }
  if (errors.length > 0) throw AppError.validation(errors);
  return Object.keys(merged).length > 0 ? merged : null;
}

/**
 * What is wrong with a tracking URL, if anything. The URL is stored and sent on as written, so it
 * must be one every reader takes the same way: an http or https URL written out in full. A
 * browser's parser quietly repairs `http:x` (to `http://x/`), `https:/host`, spaces around it, tabs
 * and line breaks inside it and backslashes, where an e-mail template or another language's parser
 * does not; and a user name or password in it would travel in every event and webhook.
 *
 * It must also be a URI as RFC 3986 writes one (ajv-formats' `uri`, what JSON Schema's, OpenAPI's
 * and AsyncAPI's `format: uri` means): a browser percent-encodes `ä`, `"`, `<` or a backtick and
 * lets `{`, `|` or `^` through, but a consumer that validates events against the AsyncAPI
 * document (`asyncapi.yaml`, `format: uri`) refused every later event of such an order, and an
 * RFC 3986 parser reads it differently or not at all. The caller percent-encodes instead
 * (`%C3%A4`) and writes an international domain name in its `xn--` form.
 */
function httpUrlProblem(value: string): string | undefined {
  const written = /^https?:\/\/[^\s\\\p{Cc}]+$/iu.test(value);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return 'must be an http or https URL';
  if (!written || url.hostname === '') {
    return 'must be an http or https URL written out in full (https://host/path), without spaces, control characters or backslashes';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (!isUri(value)) {
    return 'must be a URI as RFC 3986 writes it: percent-encode other characters (%C3%A4 for ä, %7B for {; also |, ^, <, >, ", ` and a second #) and write an international domain name in its xn-- form';
  }
  return undefined;
}

/** An update's fields under their REST names, as an event's `changes` lists them. */
export const REST_FIELD_NAMES = {
  trackingNumber: 'tracking_number',
  trackingUrl: 'tracking_url',
  notes: 'notes',
  metadata: 'metadata',
  shippingAddress: 'shipping_address',
} as const;
