/**
 * The provider side of the Cekat integration's consumer-driven contract: Pact's Verifier
 * (@pact-foundation/pact) replays every interaction of the committed pact
 * (test/fixtures/pact/, written by test/outside/pact-cekat-consumer.test.ts from the Cekat
 * document) against the real gateway, listening on a port, on this run's database. Each
 * interaction's provider state is set up in a workspace of its own, through the service layer, and
 * the document's placeholder key (`Bearer YOUR_API_KEY`) is replaced by that workspace's key.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Verifier } from '@pact-foundation/pact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Pact's core otherwise reports each run to its authors' usage statistics: a test makes no outside call.
process.env.PACT_DO_NOT_TRACK = 'true';
import { createTestApp, type TestApp } from '../support/app';
import { loadSeed } from '../support/seed';

const PACT_FILE = path.join(
  __dirname,
  '..',
  'fixtures',
  'pact',
  'cekat-legacy-integration-order-gateway-rest.json',
);

/** The document's example request (test/fixtures/cekat-create-order.json). */
const SEED_REQUEST = loadSeed().request;

let t: TestApp;
let base = '';
// The document's example as the integration sends it (its amounts as JSON numbers), so that a retry
// of it with the same Idempotency-Key is the same request.
/** The key of the workspace the current interaction's state was set up in. */
let currentKey = '';
let workspaces = 0;

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 1_000_000 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
});
afterAll(() => t?.close());

/** A workspace of its own for one interaction: its orders, totals and keys are that interaction's only. */
async function freshWorkspace() {
  workspaces += 1;
  const authorization = await t.bearer(`pact-${workspaces}`);
  currentKey = authorization.slice('Bearer '.length);
  return t.app.services.auth.authenticate(authorization);
}

async function seedOrder(key?: string, overrides: Record<string, unknown> = {}) {
  const ctx = await freshWorkspace();
  const { order } = await t.app.services.orders.createOrderExactlyOnce(
    ctx,
    { ...SEED_REQUEST, ...overrides },
    key,
  );
  return { ctx, order };
}

describe('order-gateway honours the Cekat integration’s pact (Pact Verifier)', () => {
  it(
    'every interaction of test/fixtures/pact/ verifies against the live gateway',
    { timeout: 120_000 },
    async () => {
      const output = await new Verifier({
        provider: 'order-gateway-rest',
        providerBaseUrl: base,
        pactUrls: [PACT_FILE],
        logLevel: 'warn',
        requestFilter: (request: IncomingMessage, _response: unknown, next: () => void) => {
          if (request.headers.authorization === 'Bearer YOUR_API_KEY')
            request.headers.authorization = `Bearer ${currentKey}`;
          next();
        },
        stateHandlers: {
          'a workspace with an API key': async () => {
            await freshWorkspace();
            return {};
          },
          'the seed example order exists': async () => {
            const { order } = await seedOrder();
            return { id: order.id, order_number: order.orderNumber };
          },
          'the seed example order was created with an Idempotency-Key': async (params?: unknown) => {
            const { order } = await seedOrder(String((params as { key: string }).key));
            return { id: order.id, order_number: order.orderNumber };
          },
          'three pending orders of customer contact_list exist': async () => {
            const { ctx } = await seedOrder(undefined, { customer_id: 'contact_list' });
            for (let i = 0; i < 2; i += 1)
              await t.app.services.orders.createOrderExactlyOnce(ctx, {
                ...SEED_REQUEST,
                customer_id: 'contact_list',
              });
            return {};
          },
          'a cancelled order exists': async () => {
            const { ctx, order } = await seedOrder();
            await t.app.services.orders.updateOrder(ctx, order.id, { status: 'cancelled' });
            return { id: order.id };
          },
        },
      }).verifyProvider();
      expect(output).toBeDefined();
    },
  );
});
