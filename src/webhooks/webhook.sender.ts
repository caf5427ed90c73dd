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
        // The status is the answer; the body is not read.
        finish({ statusCode: response.statusCode });
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
