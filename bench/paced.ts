/**
 * Load at an even rate, open loop: request i is due `i / rate` seconds after
 * the start, whatever became of the ones before it, and its latency is
 * counted from when it was due (so a request that waited for a free
 * connection counts that wait). This is what "N requests per second" should
 * mean for a latency figure.
 *
 * autocannon's `-R` / `overallRate` is not that: each connection sends its
 * share of a second's requests back to back as soon as the second starts,
 * then idles until the next one (its `httpClient.js` resets a per-second
 * counter on a 1 s timer), so "600/s" is a saturating burst for most of each
 * second; and it records each latency as if further requests had been due
 * every `ceil(1 / share)` ms during it (HdrHistogram's expected-interval
 * correction), which adds made-up samples. Its closed-loop mode (no rate) is
 * still what measures throughput here.
 *
 * `npm run bench:paced -- URL [--rate 200] [--seconds 10] [--connections 10]
 * [--method POST] [--body FILE] [--header 'name: value' …]` prints one line of
 * JSON (`PacedResult`). Timers fire at best every millisecond or so, so at
 * rates above about 1,000/s requests go out in small groups; none goes out
 * before it is due.
 */
import fs from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

export interface PacedOptions {
  url: string;
  /** Requests per second, evenly spaced. */
  rate: number;
  seconds: number;
  /** Keep-alive connections; a request due while all are busy waits for one (and that wait counts). */
  connections: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Longest wait for the last answers after the last request was sent (10 s). */
  drainMs?: number;
}

export interface PacedResult {
  rate: number;
  seconds: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Milliseconds from when each answered request was due to its answer's end. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The largest delay between a request's due time and its send, in ms (the load generator's own lag). */
  maxSendLagMs: number;
}

/** When request `index` is due, in ms after the start. */
export const dueAt = (index: number, rate: number) => (index * 1000) / rate;

/** The value at quantile `q` of ascending `sorted` (nearest rank); NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

// util.ts has the same helper, but importing it installs bench/processes.ts's signal handlers.
const round2 = (value: number) => Math.round(value * 100) / 100;

export async function paced(options: PacedOptions): Promise<PacedResult> {
  const total = Math.round(options.rate * options.seconds);
  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers = { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let open = 0;
  let maxSendLagMs = 0;
  let allSent: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (allSent = resolve));
  const finished = () => {
    open--;
    if (sent === total && open === 0) allSent();
  };

  const send = (due: number) => {
    sent++;
    open++;
    // A request ends once, whichever of its answer's end or an error comes first.
    let ended = false;
    const end = (outcome: 'ok' | 'non2xx' | 'error') => {
      if (ended) return;
      ended = true;
      if (outcome === 'error') errors++;
      else {
        latencies.push(performance.now() - due);
        if (outcome === 'ok') ok++;
        else non2xx++;
      }
      finished();
    };
    const request = http.request(
      url,
      { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent },
      (response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        response.on('end', () => end(status >= 200 && status < 300 ? 'ok' : 'non2xx'));
        response.on('error', () => end('error'));
      },
    );
    request.on('error', () => end('error'));
    request.end(body);
  };

  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + dueAt(sent, options.rate) <= now) {
        const due = start + dueAt(sent, options.rate);
        maxSendLagMs = Math.max(maxSendLagMs, now - due);
        send(due);
      }
      if (sent === total) return resolve();
      setTimeout(tick, Math.max(0, start + dueAt(sent, options.rate) - performance.now()));
    };
    tick();
  });
  if (total === 0) allSent();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    settled,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, options.drainMs ?? 10_000))),
  ]);
  clearTimeout(timer);
  agent.destroy();

  const sorted = latencies.sort((a, b) => a - b);
  return {
    rate: options.rate,
    seconds: options.seconds,
    sent,
    ok,
    non2xx,
    errors,
    p50: round2(quantile(sorted, 0.5)),
    p90: round2(quantile(sorted, 0.9)),
    p99: round2(quantile(sorted, 0.99)),
    max: round2(sorted.at(-1) ?? NaN),
    maxSendLagMs: round2(maxSendLagMs),
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rate: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
      method: { type: 'string' },
      body: { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
    },
  });
  const [url] = positionals;
  const number = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`--${name} must be a positive number, not ${text}`);
    return value;
  };
  if (!url)
    throw new Error(
      'usage: npm run bench:paced -- URL [--rate N] [--seconds S] [--connections C] [--method M] [--body FILE] [--header "name: value" …]',
    );
  const headers: Record<string, string> = {};
  for (const header of values.header) {
    const colon = header.indexOf(':');
    if (colon < 1) throw new Error(`--header must be "name: value", not ${header}`);
    headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
  }
  const body = values.body === undefined ? undefined : fs.readFileSync(values.body, 'utf8');
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const result = await paced({
    url,
    rate: number('rate', values.rate),
    seconds: number('seconds', values.seconds),
    connections: Math.round(number('connections', values.connections)),
    method: values.method,
    headers,
    body,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
