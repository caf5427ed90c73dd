/** `order-gateway webhook create | list | update | rotate-secret | delete` (events contract §4), on the same database selection as the server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessDatabase } from '../support/database';
import { runCli } from '../support/processes';

// Each run is a new Node process that loads the whole CLI; on a busy machine that takes a while.
const TIMEOUT = 90_000;
let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ env: env, cleanup } = await createProcessDatabase('og-cli-webhooks-'));
  expect((await runCli(['workspace', 'create', 'shop'], env, TIMEOUT)).code).toBe(0);
}, 120_000);
afterAll(() => cleanup());

describe('order-gateway webhook', { timeout: 300_000 }, () => {
  it('create --json prints {id, url, events, secret}; list shows it without the secret; update disables it; rotate-secret prints a new secret once; delete removes it', async () => {
    const local = { ...env, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' };
    const created = await runCli(
      ['webhook', 'create', '--workspace', 'shop', '--url', 'http://127.0.0.1:9/hooks', '--events', 'order.created,order.updated', '--json'],
      local,
      TIMEOUT,
    );
    expect(created.code, created.stderr).toBe(0);
    const lines = created.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const endpoint = JSON.parse(lines[0]);
    expect(Object.keys(endpoint)).toStrictEqual(['id', 'url', 'events', 'secret']);
    expect(endpoint).toStrictEqual({
      id: expect.stringMatching(/^whep_[0-9A-Z]{26}$/),
      url: 'http://127.0.0.1:9/hooks',
      events: ['order.created', 'order.updated'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });

    const listed = await runCli(['webhook', 'list', '--workspace', 'shop'], local, TIMEOUT);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe(`${endpoint.id}  http://127.0.0.1:9/hooks  order.created,order.updated\n`);
    expect(listed.stdout).not.toContain(endpoint.secret);

    const updated = await runCli(['webhook', 'update', endpoint.id, '--disable', '--events', 'order.status_changed', '--json'], local, TIMEOUT);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ id: endpoint.id, url: 'http://127.0.0.1:9/hooks', events: ['order.status_changed'], enabled: false });
    expect(updated.stdout).not.toContain(endpoint.secret);
    const rotated = await runCli(['webhook', 'rotate-secret', endpoint.id, '--previous-secret-valid-for', '60', '--json'], local, TIMEOUT);
    expect(rotated.code, rotated.stderr).toBe(0);
    const rotation = JSON.parse(rotated.stdout);
    expect(rotation).toStrictEqual({ id: endpoint.id, secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/), previousSecretExpiresAt: expect.any(String) });
    expect(rotation.secret).not.toBe(endpoint.secret);
    expect(Math.abs(Date.parse(rotation.previousSecretExpiresAt) - Date.now() - 60_000)).toBeLessThan(30_000);
    const refused = await runCli(['webhook', 'rotate-secret', endpoint.id, '--previous-secret-valid-for', 'soon'], local, TIMEOUT);
    expect(refused.code).toBe(65);
    expect(refused.stderr).toContain('previous_secret_valid_for_seconds must be a whole number of seconds from 0 to 604800');
    const both = await runCli(['webhook', 'update', endpoint.id, '--enable', '--disable'], local, TIMEOUT);
    // Two options that exclude each other: a usage error, 64 (EX_USAGE).
    expect(both.code).toBe(64);
    expect(both.stderr).toContain("option '--disable' cannot be used with option '--enable'");

    expect((await runCli(['webhook', 'delete', endpoint.id], local, TIMEOUT)).stdout).toBe(`Deleted ${endpoint.id}\n`);
  });

  // The service's other refusals (event types, URLs) are tested in test/integration/webhooks.test.ts; each CLI run costs a process.
  it('refuses a private address with the guard on (outside development), naming the address', async () => {
    const guarded = await runCli(['webhook', 'create', '--workspace', 'shop', '--url', 'http://10.0.0.1/hooks', '--events', 'order.gone'], env, TIMEOUT);
    expect(guarded.code).toBe(65);
    expect(guarded.stderr).toContain('url must reach a public address (10.0.0.1 is private, loopback, link-local or reserved)');
    expect(guarded.stderr).toContain('events[0] must be one of order.created, order.updated, order.status_changed');
  });
});
