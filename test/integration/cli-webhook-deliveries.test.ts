/**
 * `order-gateway webhook deliveries <id>`: the attempt log from the command
 * line, as `webhookDeliveries` shows it over GraphQL. Run in process on the
 * test app's database (a CLI process could not share the embedded one).
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { afterAll, expect, it } from 'vitest';
import { registerWebhookCommands } from '../../src/cli/commands/webhook';
import { testConfig, useTestApp } from '../support/app';
import { eventually } from '../support/nats';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

// The command loads its services with Node's require when it runs (src/cli/commands/webhook.ts), as
// the CLI does under @swc-node/register (test/support/processes.ts): register it here too.
createRequire(__filename)('@swc-node/register');

const config = testConfig({ webhookAllowPrivateNetworks: true, webhookRetrySchedule: [100], eventsPollIntervalMs: 100 });
const t = useTestApp(config);
const receivers: Receiver[] = [];
afterAll(() => Promise.all(receivers.map((receiver) => receiver.close())));

async function cli(args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const program = new Command('order-gateway').exitOverride();
  registerWebhookCommands(program, {
    print: (line) => lines.push(line),
    note: () => undefined,
    config: () => config,
    withDatabase: (run) => run(t.app.db),
  });
  await program.parseAsync(args, { from: 'user' });
  return lines;
}

it('lists an endpoint’s deliveries with every attempt, as the receiver saw them', async () => {
  const receiver = await startReceiver([503, 200]);
  receivers.push(receiver);
  const endpoint = await t.app.services.webhooks.createEndpoint(await t.context(), { url: receiver.url });
  const created = await t.rest.post('/api/orders', { customer_id: 'cli', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
  expect(created.statusCode).toBe(201);
  await eventually(async () => receiver.received.length === 2, 10_000, 'the retried delivery');
  await eventually(
    async () => (await t.app.services.webhooks.listDeliveries(await t.context(), endpoint.id, {})).edges[0]?.delivery.status === 'delivered',
    10_000,
    'the delivery to be recorded',
  );

  const json = (await cli(['webhook', 'deliveries', endpoint.id, '--json'])).map((line) => JSON.parse(line));
  expect(json).toHaveLength(1);
  expect(json[0]).toMatchObject({ endpointId: endpoint.id, eventType: 'order.created', eventId: receiver.received[0]?.headers['webhook-id'], status: 'delivered' });
  expect(json[0].attempts.map((attempt: { statusCode: number }) => attempt.statusCode)).toStrictEqual([503, 200]);

  const text = await cli(['webhook', 'deliveries', endpoint.id]);
  expect(text).toHaveLength(3);
  expect(text[0]).toMatch(new RegExp(`^whdl_[0-9a-f]{32}  order\\.created  ${json[0].eventId}  delivered  delivered \\d{4}-\\d\\d-\\d\\dT`));
  expect(text[1]).toMatch(/^ {2}\d{4}-\d\d-\d\dT\S+Z {2}503 {2}\d+ ms$/);
  expect(text[2]).toMatch(/^ {2}\d{4}-\d\d-\d\dT\S+Z {2}200 {2}\d+ ms$/);

  await expect(cli(['webhook', 'deliveries', 'whep_01ARZ3NDEKTSV4RRFFQ69G5FAV'])).rejects.toMatchObject({ code: 'NOT_FOUND' });

  // Sent again by the running gateway, with the same webhook-id, and logged as a third attempt.
  const [again] = (await cli(['webhook', 'redeliver', json[0].id, '--json'])).map((line) => JSON.parse(line));
  expect(again).toMatchObject({ id: json[0].id, status: 'pending' });
  await eventually(async () => receiver.received.length === 3, 10_000, 'the redelivery');
  expect(receiver.received[2]?.headers['webhook-id']).toBe(json[0].eventId);
  await eventually(async () => JSON.parse((await cli(['webhook', 'deliveries', endpoint.id, '--json']))[0] ?? '{}').attempts?.length === 3, 10_000, 'the third attempt');
  await expect(cli(['webhook', 'redeliver', 'whdl_00000000000000000000000000000000'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
});
