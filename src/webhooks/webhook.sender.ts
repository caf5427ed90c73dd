/**
 * One webhook POST: the CloudEvent as the body, Standard Webhooks headers,
 * a deadline, no redirects followed, and the private-network guard on the
 * address actually connected to. It never throws: the outcome is a status
 * code or an error message, and how long it took.
 */
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { guardedLookup, isPrivateAddress, literalAddress, type Lookup, PrivateAddressError } from './network-guard';

export interface SendOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  lookup?: Lookup;
}

export interface SendResult {
  statusCode?: number;
  error?: string;
  durationMs: number;
  /** The receiver's `Retry-After` (seconds, or an HTTP date), as a wait in milliseconds from its answer. */
  retryAfterMs?: number;
}

/** `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when it is neither. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) || !/[a-z]/i.test(text) ? undefined : Math.max(0, date - now);
}

export function sendWebhook(options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let target: URL;
  try {
    target = new URL(options.url);
  } catch {
    return Promise.resolve({ error: 'invalid URL', durationMs: 0 });
  }
  if (!options.allowPrivateNetworks) {
    const literal = literalAddress(target);
    if (literal !== undefined && isPrivateAddress(literal))
      return Promise.resolve({ error: new PrivateAddressError(literal).message, durationMs: 0 });
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ ...result, durationMs: elapsed() });
    };
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
        lookup: (options.allowPrivateNetworks ? options.lookup : guardedLookup(options.lookup)),
        agent: false,
      },
      (response) => {
        // The status is the answer (with a Retry-After, if any); the body is not read.
        const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
        finish({ statusCode: response.statusCode, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
        response.destroy();
      },
    );
    const deadline = setTimeout(() => {
      finish({ error: `no answer within ${options.timeoutMs} ms` });
      request.destroy();
    }, options.timeoutMs);
    request.on('error', (error) => finish({ error: error.message }));
    request.end(options.body);
  });
}
