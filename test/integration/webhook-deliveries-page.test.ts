/**
 * A page of an endpoint's deliveries says whether deliveries come before it,
 * as the order list does: the service decides, the GraphQL resolver only
 * shapes the page (webhook.resolver.ts).
 */
import { expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp({ webhookAllowPrivateNetworks: true });

it('hasPreviousPage is true after a cursor, and false on the first page (no cursor, or an empty one)', async () => {
  const ctx = await t.context();
  const service = t.app.services.webhooks;
  const endpoint = await service.createEndpoint(ctx, { url: 'http://127.0.0.1:9/hook' });
  const cursor = Buffer.from(JSON.stringify(['2025-01-01T00:00:00.000Z', `whdl_${'0'.repeat(32)}`])).toString('base64url');

  expect(await service.listDeliveries(ctx, endpoint.id, {})).toStrictEqual({ edges: [], hasNextPage: false, hasPreviousPage: false });
  expect(await service.listDeliveries(ctx, endpoint.id, { after: '' })).toMatchObject({ hasPreviousPage: false });
  expect(await service.listDeliveries(ctx, endpoint.id, { after: cursor })).toStrictEqual({ edges: [], hasNextPage: false, hasPreviousPage: true });
});
