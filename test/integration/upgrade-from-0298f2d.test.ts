/**
 * An upgrade as the operator runs it, from a database an older release wrote:
 * restore version 0298f2d's database (2 December 2026, before
 * Migration20261202060000_event_data_json and the webhook secret rotation),
 * as `pg_dump` left it, with psql; run this version's `migrate`; serve with
 * this version. Every old row must read back exactly, its keys replay, the
 * revoked key stay revoked, the endpoint's old secret still sign, and the
 * events the old release left queued flow, each event once. The fixture was
 * written by that release (`test/fixtures/upgrade/gateway-0298f2d.*`); no
 * checkout or network at test time. PostgreSQL pass only: it needs a server
 * and psql, as a restore does.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LosslessNumber, parse, stringify } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, queryRows, usingRealPostgres } from '../support/database';
import { runCli, startServer, type CliResult, type RunningServer } from '../support/processes';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const FIXTURES = path.join(__dirname, '../fixtures/upgrade');
const fixture = JSON.parse(readFileSync(path.join(FIXTURES, 'gateway-0298f2d.json'), 'utf8')) as {
  apiKey: { key: string };
  revokedApiKey: { key: string };
  webhook: { id: string; secret: string };
  creates: { key: string; request: string; answer: string }[];
  readsAfter: Record<string, string>;
};

/**
 * JSON read exactly, each number spelled without trailing zeros: answers compare by value, since
 * releases after 0298f2d write amounts with their currency's digits (`0.00`) where it wrote `0`.
 */
const byValue = (text: string): unknown =>
  parse(text, undefined, (value) => new LosslessNumber(/^-?\d+\.\d+$/.test(value) ? value.replace(/\.?0+$/, '') : value));

describe.runIf(usingRealPostgres)('upgrade from 0298f2d: restore its dump, migrate, serve (PostgreSQL pass)', { timeout: 120_000 }, () => {
  let url: string;
  let drop: () => Promise<void>;
  let server: RunningServer | undefined;
  let receiver: Receiver;
  let migrated: CliResult;
  let moved: CliResult;
  const query = <T extends object>(sql: string): Promise<T[]> => queryRows<T>(url, sql);

  beforeAll(async () => {
    ({ url, drop } = await createServerDatabase());
    // The restore of a plain dump: psql, stopping at the first error.
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', path.join(FIXTURES, 'gateway-0298f2d.sql')], { stdio: 'pipe' });
    // The keys were written a day before they expire; keep them live whenever this runs.
    await query(`update idempotency_keys set expires_at = now() + interval '1 hour'`);
    // The old release scheduled its next retries minutes after it wrote them: due by now in any later run.
    await query(`update webhook_deliveries set next_attempt_at = now() where status = 'pending'`);
    receiver = await startReceiver();
    receiver.secret = fixture.webhook.secret;
    migrated = await runCli(['migrate'], { DATABASE_URL: url });
    // The operator points the old endpoint at a receiver that answers (the old one was a closed port).
    moved = await runCli(['webhook', 'update', fixture.webhook.id, '--url', receiver.url], { DATABASE_URL: url, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
    if (migrated.code === 0 && moved.code === 0) {
      server = await startServer({
        DATABASE_URL: url,
        MIGRATE_ON_START: 'false',
        MAX_EVENT_LOOP_DELAY_MS: '0', // a busy test machine is not what this is about
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
        EVENTS_POLL_INTERVAL_MS: '100',
      });
    }
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    await drop?.();
  });

  it('migrate applies only the migrations after the old release', () => {
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toBe('Applied Migration20261202060000_event_data_json, Migration20261206023703_webhook_secret_rotation, Migration20261207021546_trace_context, Migration20261207120613_order_constraints, Migration20261207122222_amounts_add_up\n');
  });

  it('serves every old order exactly as the old release last answered it, to the old key; the revoked key stays revoked', async () => {
    expect(moved.code, moved.stderr).toBe(0);
    if (!server) throw new Error('no server');
    const auth = { authorization: `Bearer ${fixture.apiKey.key}` };
    const reads = { ...fixture.readsAfter };
    for (const create of fixture.creates) {
      const id = (parse(create.answer) as { data: { id: string } }).data.id;
      reads[id] ??= stringify((parse(create.answer) as { data: unknown }).data) as string;
    }
    expect(Object.keys(reads)).toHaveLength(4);
    for (const [id, expected] of Object.entries(reads)) {
      const read = await fetch(`${server.url}/api/orders/${id}`, { headers: auth });
      const body = await read.text();
      expect(read.status, body).toBe(200);
      expect((byValue(body) as { data: unknown }).data, id).toStrictEqual(byValue(expected));
    }
    const revoked = await fetch(`${server.url}/api/orders`, { headers: { authorization: `Bearer ${fixture.revokedApiKey.key}` } });
    expect(revoked.status).toBe(401);
  });

  it('replays each key the old release stored with the body it answered then, and refuses a different body', async () => {
    for (const create of fixture.creates) {
      const replay = await fetch(`${server!.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fixture.apiKey.key}`, 'content-type': 'application/json', 'idempotency-key': create.key },
        body: create.request,
      });
      const body = await replay.text();
      expect(replay.status, `${create.key}: ${body}`).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(byValue(body), create.key).toStrictEqual(byValue(create.answer));
    }
    const reused = await fetch(`${server!.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.apiKey.key}`, 'content-type': 'application/json', 'idempotency-key': 'up-1' },
      body: fixture.creates[1].request,
    });
    expect(reused.status).toBe(422);
  });

  it('numbers a new order after the old ones, without a gap or a repeat', async () => {
    const created = await fetch(`${server!.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.apiKey.key}`, 'content-type': 'application/json' },
      body: fixture.creates[3].request,
    });
    const body = (await created.json()) as { data: { order_number: string } };
    expect(created.status).toBe(201);
    // The old orders are ORD-2026-1206-001…004 in the workspace's zone (Asia/Jakarta).
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Jakarta' }).format(new Date()).replaceAll('-', '');
    const expected = today === '20261206' ? 'ORD-2026-1206-005' : `ORD-${today.slice(0, 4)}-${today.slice(4)}-001`;
    expect(body.data.order_number).toBe(expected);
  });

  it('sends each old event once, queued ones too, signed with the endpoint’s old secret', async () => {
    const oldEvents = (await query<{ id: string }>('select id from order_events order by position')).map((row) => row.id);
    expect(oldEvents).toHaveLength(9); // eight from the old release, one from the create above
    const deadline = Date.now() + 30_000;
    const ids = () => receiver.received.map((request) => (JSON.parse(request.body) as { id: string }).id);
    while (Date.now() < deadline && new Set(ids()).size < oldEvents.length) await new Promise((resolve) => setTimeout(resolve, 200));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // anything sent twice would arrive by now
    expect(receiver.received.every((request) => request.verified)).toBe(true);
    expect(ids().toSorted()).toStrictEqual(oldEvents.toSorted());
    // Rows from before the trace columns (null) and untraced requests leave without the tracing extension.
    for (const request of receiver.received) expect(JSON.parse(request.body)).not.toHaveProperty('traceparent');
    expect(await query('select * from order_event_queue')).toHaveLength(0);
  });
});
