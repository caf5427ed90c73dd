import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { dueAt, paced, quantile } from '../../bench/paced';

const servers: http.Server[] = [];

async function listen(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('bench:paced', () => {
  it('spaces requests evenly and takes quantiles by nearest rank', () => {
    expect([0, 1, 2, 100].map((index) => dueAt(index, 200))).toEqual([0, 5, 10, 500]);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(quantile([7], 0.01)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('never sends a request before it is due, and counts every answer by its status', async () => {
    const arrivals: number[] = [];
    const bodies: string[] = [];
    const url = await listen((request, response) => {
      arrivals.push(performance.now());
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        response.statusCode = arrivals.length % 10 === 0 ? 503 : 201;
        response.end('{}');
      });
    });
    const before = performance.now();
    const result = await paced({ url, rate: 200, seconds: 0.5, connections: 4, body: '{"a":1}' });

    expect(result).toMatchObject({ rate: 200, sent: 100, ok: 90, non2xx: 10, errors: 0 });
    expect(arrivals).toHaveLength(100);
    expect(new Set(bodies)).toEqual(new Set(['{"a":1}']));
    // The k-th request to arrive was sent no earlier than request k was due (autocannon's
    // rate option, which sends a second's share at once, fails this from the second request on).
    const sorted = [...arrivals].sort((a, b) => a - b);
    sorted.forEach((arrival, k) => expect(arrival - before).toBeGreaterThanOrEqual(dueAt(k, 200)));
  });

  it('counts latency from when a request was due, including its wait for a connection', async () => {
    let seen = 0;
    const url = await listen((_request, response) => {
      seen++;
      // One slow answer holds the only connection: the requests due meanwhile wait, and that counts.
      setTimeout(() => response.end('ok'), seen === 1 ? 150 : 0);
    });
    const result = await paced({ url, rate: 100, seconds: 0.3, connections: 1 });

    expect(result).toMatchObject({ sent: 30, ok: 30, errors: 0 });
    expect(result.max).toBeGreaterThanOrEqual(150);
    // Requests 1–14 were due during the first one's 150 ms, and 1–10 of them waited 50 ms or
    // more: with the first, 11 of 30, so the 27th-fastest (p90) is one of them.
    expect(result.p90).toBeGreaterThanOrEqual(50);
  });

  it('counts refused connections as errors and still finishes', async () => {
    const url = await listen(() => undefined);
    const closed = servers.pop()!;
    await new Promise((resolve) => closed.close(resolve));
    const result = await paced({ url, rate: 50, seconds: 0.2, connections: 2 });

    expect(result).toMatchObject({ sent: 10, ok: 0, non2xx: 0, errors: 10 });
    expect(result.p99).toBeNaN();
  });
});
