/**
 * Load shedding: while the event loop lags, /api and /graphql answer 503
 * with Retry-After at once, and the probes still answer. The lag is made
 * here by blocking the loop on purpose; nothing is timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let auth: string;

beforeAll(async () => {
  t = await createTestApp({ maxEventLoopDelayMs: 50, loadSampleIntervalMs: 100 });
  auth = await t.bearer('acme');
});
afterAll(() => t.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the event loop busy in slices, so that the sampled delay stays high, then lets one sample be taken. */
async function lag(): Promise<void> {
  for (let slice = 0; slice < 3; slice++) {
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // busy: no timer can fire
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const restGet = () => t.app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: auth } });
const graphql = () =>
  t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ query: '{ orders { totalCount } }' }),
  });

/** The status of a REST read once the process has caught up (a bounded wait; nothing is timed). */
async function settled(): Promise<number> {
  let status = 503;
  for (let attempt = 0; attempt < 100 && status === 503; attempt++) {
    await sleep(100);
    status = (await restGet()).statusCode;
  }
  return status;
}

describe('when the event loop lags', () => {
  it('answers /api and /graphql with 503 SERVICE_UNAVAILABLE and Retry-After, keeps the probes up, and recovers', async () => {
    // Building the app kept the loop busy too: start from a calm process.
    expect(await settled()).toBe(200);
    await lag();
    const [rest, gql, healthz] = await Promise.all([restGet(), graphql(), t.app.http.inject({ method: 'GET', url: '/healthz' })]);

    expect(rest.statusCode).toBe(503);
    expect(rest.headers['retry-after']).toBe('2');
    expect(rest.json().error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: 'The server is overloaded; retry shortly' });

    expect(gql.statusCode).toBe(503);
    expect(gql.headers['retry-after']).toBe('2');
    expect(gql.json()).toStrictEqual({
      errors: [
        {
          message: 'The server is overloaded; retry shortly',
          extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 2, requestId: gql.headers['x-request-id'] },
        },
      ],
    });

    expect(healthz.statusCode).toBe(200);

    // Once the loop is idle again, the next samples clear it.
    expect(await settled()).toBe(200);
  });

  it('is off with MAX_EVENT_LOOP_DELAY_MS=0', async () => {
    const off = await createTestApp({ maxEventLoopDelayMs: 0, loadSampleIntervalMs: 100 });
    try {
      const key = await off.bearer('acme');
      await lag();
      const res = await off.app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: key } });
      expect(res.statusCode).toBe(200);
    } finally {
      await off.close();
    }
  });
});

describe('the log while shedding', () => {
  it('writes one warning for a burst of refusals, not one per refused request', async () => {
    const shed = await createTestApp({ maxEventLoopDelayMs: 50, loadSampleIntervalMs: 100 });
    try {
      const key = await shed.bearer('acme');
      const get = () => shed.app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: key } });
      let status = 503;
      for (let attempt = 0; attempt < 100 && status === 503; attempt++) {
        await sleep(100);
        status = (await get()).statusCode;
      }
      expect(status).toBe(200);
      await lag();
      const answers = await Promise.all(Array.from({ length: 20 }, get));
      expect(answers.map((res) => res.statusCode)).toStrictEqual(Array.from({ length: 20 }, () => 503));
      const warnings = shed.logs.filter((line) => line.msg === 'shedding load: the event loop lags');
      expect(warnings).toHaveLength(1);
      // Each refusal still has its own line, with its request id and status.
      const refusals = shed.logs.filter((line) => line.msg === 'request completed' && line.status === 503);
      expect(refusals).toHaveLength(20);
    } finally {
      await shed.close();
    }
  });
});
