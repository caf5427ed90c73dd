/**
 * The update request's rules, pure: what each field asks for (null clears, null status keeps),
 * the tracking URL a reader takes one way only, and the metadata patch with its limits.
 * Written after mutation testing (`npm run mutation`) found no unit test of them.
 */
import { describe, expect, it } from 'vitest';
import { mergeMetadata, parseUpdateOrderRequest } from '../../src/orders/update-order.validation';
import { caught } from '../support/app-errors';

const address = { address: '1 Main St', city: 'Jakarta', postal_code: '10110', country: 'ID' };

describe('parseUpdateOrderRequest', () => {
  it('leaves out what is left out', () => {
    expect(parseUpdateOrderRequest({})).toStrictEqual({});
  });

  it('reads every field under its service name', () => {
    expect(
      parseUpdateOrderRequest({
        status: 'shipped',
        tracking_number: 'JNE123',
        tracking_url: 'https://track.example/JNE123',
        notes: 'leave at the door',
        metadata: { gift: true },
        shipping_address: address,
      }),
    ).toStrictEqual({
      status: 'shipped',
      trackingNumber: 'JNE123',
      trackingUrl: 'https://track.example/JNE123',
      notes: 'leave at the door',
      metadata: { gift: true },
      shippingAddress: expect.objectContaining({ address: '1 Main St', country: 'ID' }),
    });
  });

  it('clears a field sent as null, but keeps the status for a null status', () => {
    expect(
      parseUpdateOrderRequest({
        status: null,
        tracking_number: null,
        tracking_url: null,
        notes: null,
        metadata: null,
        shipping_address: null,
      }),
    ).toStrictEqual({ trackingNumber: null, trackingUrl: null, notes: null, metadata: null, shippingAddress: null });
  });

  it.each([
    [[1], 'body'],
    [null, 'body'],
    ['x', 'body'],
  ])('refuses the body %j', (body, field) => {
    const error = caught(() => parseUpdateOrderRequest(body));
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toStrictEqual([{ path: [field], message: 'must be a JSON object' }]);
  });

  it('names every bad field at once, and an unknown status with the statuses it could be', () => {
    const error = caught(() =>
      parseUpdateOrderRequest({
        status: 'lost',
        tracking_number: 'x'.repeat(256),
        tracking_url: 'ftp://files.example/a',
        shipping_address: { ...address, country: 'XX' },
        colour: 'red',
      }),
    );
    expect(error.code).toBe('VALIDATION_ERROR');
    const byField = Object.fromEntries(error.details.map((d) => [d.path.join('.'), d.message]));
    expect(byField).toStrictEqual({
      status: 'must be one of pending, paid, processing, shipped, delivered, cancelled, refunded',
      tracking_number: 'must be at most 255 characters',
      tracking_url: 'must be an http or https URL',
      'shipping_address.country': expect.stringMatching(/ISO 3166-1 alpha-2/),
      colour: 'is not a known field',
    });
  });

  it('takes a tracking number of exactly 255 characters', () => {
    expect(parseUpdateOrderRequest({ tracking_number: 'x'.repeat(255) })).toStrictEqual({
      trackingNumber: 'x'.repeat(255),
    });
  });

  it.each(['http://track.example', 'https://track.example/a?b=c#d', 'HTTPS://TRACK.EXAMPLE/%C3%A4'])(
    'accepts the tracking URL %j',
    (url) => {
      expect(parseUpdateOrderRequest({ tracking_url: url })).toStrictEqual({ trackingUrl: url });
    },
  );

  it.each([
    ['not a URL', 'must be an http or https URL'],
    ['mailto:a@example.com', 'must be an http or https URL'],
    ['javascript:alert(1)', 'must be an http or https URL'],
    ['http:track.example', /written out in full/],
    ['https:/track.example', /written out in full/],
    [' https://track.example', /written out in full/],
    ['https://track.example/a b', /written out in full/],
    ['https://track.example\\a', /written out in full/],
    ['https://user:secret@track.example/', 'must not carry a user name or password'],
    ['https://user@track.example/', 'must not carry a user name or password'],
    ['https://track.example/ä', /RFC 3986/],
    ['https://track.example/{id}', /RFC 3986/],
  ])('refuses the tracking URL %j', (url, message) => {
    const error = caught(() => parseUpdateOrderRequest({ tracking_url: url }));
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toHaveLength(1);
    expect(error.details[0]?.path).toStrictEqual(['tracking_url']);
    expect(error.details[0]?.message).toMatch(message);
  });
});

describe('mergeMetadata', () => {
  it('replaces keys, removes a key patched to null, and keeps the others', () => {
    expect(mergeMetadata({ a: 1, b: 2, c: 3 }, { b: 20, c: null, d: 4 })).toStrictEqual({ a: 1, b: 20, d: 4 });
  });

  it('starts from nothing when nothing is stored', () => {
    expect(mergeMetadata(null, { a: 1 })).toStrictEqual({ a: 1 });
    expect(mergeMetadata(undefined, { a: 1 })).toStrictEqual({ a: 1 });
  });

  it('clears everything for a null patch, and is null once the last key is removed', () => {
    expect(mergeMetadata({ a: 1 }, null)).toBeNull();
    expect(mergeMetadata({ a: 1 }, { a: null })).toBeNull();
  });

  it('keeps "__proto__" a key like any other', () => {
    const patch = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
    const merged = mergeMetadata({ a: 1 }, patch);
    expect(Object.keys(merged ?? {})).toContain('__proto__');
  });

  it('allows 50 keys after the merge, and refuses 51 naming metadata', () => {
    const stored = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(mergeMetadata(stored, { extra: 1 }) ?? {})).toHaveLength(50);
    const error = caught(() => mergeMetadata(stored, { extra: 1, another: 2 }));
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toStrictEqual([
      { path: ['metadata'], message: 'would have more than 50 keys after the merge' },
    ]);
  });

  it('allows 51 keys in a patch that removes two of them', () => {
    const stored = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(mergeMetadata(stored, { k0: null, k1: null, extra: 1 }) ?? {})).toHaveLength(49);
  });
});
