/**
 * The gateway's output as a log pipeline reads it: a real `order-gateway serve` process, its
 * stdout and stderr together (as a container runtime collects them), read by jq and by lnav
 * with the format in deploy/lnav/order-gateway.json. Every line must be one JSON object with a
 * numeric `level`, `time` in epoch milliseconds and `msg`; requests correlate by `reqId` with
 * `X-Request-Id` and the error body's `request_id`; no key, webhook secret or idempotency key
 * reaches the log; and so through errors of every class, webhook failures, shutdown and a crash.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessDatabase } from '../support/database';
import { runCli, startServer, type RunningServer } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const ROOT = path.resolve(__dirname, '../..');
const tools = toolsInstalled({ jq: ['--version'], lnav: ['-V'] }, 'apt-get install -y jq lnav');
const TIMEOUT = 120_000;
const CRASH = path.join(ROOT, 'test/fixtures/logs/crash-on-signal.js');

let home: string;
let database: Record<string, string>;
let cleanup: () => Promise<void> = async () => {};
let key: string;
let secret: string;

interface LogLine {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

/** Writes `output` to a file and has jq and lnav read it; returns the parsed lines. */
function readAsPipeline(output: string): LogLine[] {
  const file = path.join(home, `gateway-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  fs.writeFileSync(file, output);
  const lines = output.split('\n').filter((line) => line !== '');
  // jq: one compact object per input line, or an error naming the first line that is not JSON.
  const jq = spawnSync('jq', ['-c', 'if type == "object" then . else error("not an object") end', file], {
    encoding: 'utf8',
  });
  expect(jq.stderr, `jq on the gateway's output:\n${output.slice(0, 4000)}`).toBe('');
  expect(jq.status).toBe(0);
  expect(jq.stdout.trim().split('\n')).toHaveLength(lines.length);
  // lnav: every line a message of the order-gateway format, none "invalid" (lnav's level for a line no format reads).
  const lnav = spawnSync(
    'lnav',
    [
      '-n',
      '-c',
      ";SELECT count(*) AS lines, sum(log_level = 'invalid') AS invalid, sum(log_time IS NULL) AS untimed FROM order_gateway_log",
      file,
    ],
    { encoding: 'utf8', env: { ...process.env, HOME: home } },
  );
  expect(lnav.status, lnav.stderr).toBe(0);
  const [, counts] = lnav.stdout.trim().split('\n');
  expect(
    counts.trim().split(/\s+/).map(Number),
    `lnav: lines, invalid, untimed\n${output.slice(0, 4000)}`,
  ).toStrictEqual([lines.length, 0, 0]);
  const parsed = lines.map((line) => JSON.parse(line) as LogLine);
  for (const line of parsed) {
    expect(line).toMatchObject({
      level: expect.any(Number),
      time: expect.any(Number),
      msg: expect.any(String),
    });
    expect([10, 20, 30, 40, 50, 60]).toContain(line.level);
  }
  return parsed;
}

/** The exit code of a process that ends by itself. */
function exitCode(server: RunningServer): Promise<number | null> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  // No load shedding: on a busy CI machine a 503 would take the place of the answer under test.
  return {
    ...database,
    NODE_ENV: 'production',
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...extra,
  };
}

async function withServer<T>(
  extra: Record<string, string>,
  run: (server: RunningServer) => Promise<T>,
): Promise<{ result: T; output: string; code: number | null }> {
  const server = await startServer(serverEnv(extra));
  let result: T;
  try {
    result = await run(server);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const code = await server.stop();
  return { result, output: server.output(), code };
}

beforeAll(async () => {
  if (!tools.up) return;
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'og-lnav-'));
  // As the README tells an operator: install the format once (into ~/.lnav/formats/installed).
  const install = spawnSync('lnav', ['-i', path.join(ROOT, 'deploy/lnav/order-gateway.json')], {
    encoding: 'utf8',
    env: { ...process.env, HOME: home },
  });
  expect(install.status, install.stderr).toBe(0);
  ({ env: database, cleanup } = await createProcessDatabase('og-logs-'));
  const created = await runCli(['apikey', 'create', '--workspace', 'shop', '--json'], serverEnv());
  expect(created.code, created.stderr).toBe(0);
  key = (JSON.parse(created.stdout) as { key: string }).key;
  // A receiver that is never there: port 1 refuses every connection.
  const hook = await runCli(
    ['webhook', 'create', '--workspace', 'shop', '--url', 'http://127.0.0.1:1/hook', '--json'],
    serverEnv(),
  );
  expect(hook.code, hook.stderr).toBe(0);
  secret = (JSON.parse(hook.stdout) as { secret: string }).secret;
}, TIMEOUT);
afterAll(async () => {
  await cleanup();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

const ORDER = {
  customer_id: 'contact_abc123',
  items: [{ product_id: 'prod_001', quantity: 2, price: '99.00' }],
  total: '198.00',
  notes: 'leave it with the neighbour, door code 4711',
};

describe.skipIf(!tools.up)(
  `the gateway's output in a log pipeline (jq, lnav) ${tools.reason}`,
  { timeout: TIMEOUT },
  () => {
    it('every request of every outcome is one JSON line, found by the X-Request-Id and request_id the client got', async () => {
      const idempotencyKey = 'idem-7f3e2c1d-secret-looking';
      const {
        result: answers,
        output,
        code,
      } = await withServer({ RATE_LIMIT_PER_MINUTE: '12', BODY_LIMIT_BYTES: '2048' }, async (server) => {
        const auth = { authorization: `Bearer ${key}` };
        const json = { ...auth, 'content-type': 'application/json' };
        const call = async (url: string, init: RequestInit = {}) => {
          const res = await fetch(`${server.url}${url}`, init);
          const body = await res.text();
          return { status: res.status, requestId: res.headers.get('x-request-id'), body };
        };
        return [
          await call('/api/orders', {
            method: 'POST',
            headers: { ...json, 'idempotency-key': idempotencyKey },
            body: JSON.stringify(ORDER),
          }),
          await call('/api/orders', {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ ...ORDER, total: 'lots' }),
          }),
          await call('/api/orders', { headers: { authorization: `Bearer ogk_${'x'.repeat(43)}` } }),
          await call('/api/orders/order_01M9615Y0K4V5FWF75N5VF00F6', { headers: auth }),
          await call('/api/orders', {
            method: 'POST',
            headers: { ...auth, 'content-type': 'text/plain' },
            body: 'hello',
          }),
          await call('/api/orders', {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ ...ORDER, notes: 'x'.repeat(4096) }),
          }),
          await call('/api/orders', { method: 'POST', headers: json, body: '{"customer_id": ' }),
          await call('/graphql', {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ query: '{ nosuch }' }),
          }),
          await call('/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }),
          }),
          await call(`/api/orders?customer_id=contact_abc123&api_key=${key}`, { headers: auth }),
          ...(await Promise.all(Array.from({ length: 6 }, () => call('/api/orders', { headers: auth })))),
        ];
      });
      expect(code).toBe(0);
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.slice(0, 10)).toStrictEqual([201, 422, 401, 404, 415, 413, 400, 400, 401, 422]);
      expect(statuses).toContain(429);

      const lines = readAsPipeline(output);
      for (const answer of answers) {
        const completed = lines.filter(
          (line) => line.msg === 'request completed' && line.reqId === answer.requestId,
        );
        expect(completed, `the access line of ${answer.requestId}`).toHaveLength(1);
        expect(completed[0]).toMatchObject({
          level: 30,
          status: answer.status,
          latencyMs: expect.any(Number),
        });
        // Bounded: at most the access line and one error line per request.
        expect(lines.filter((line) => line.reqId === answer.requestId).length).toBeLessThanOrEqual(2);
        if (answer.status >= 400 && answer.body.startsWith('{"success"')) {
          expect((JSON.parse(answer.body) as { error: { request_id: string } }).error.request_id).toBe(
            answer.requestId,
          );
        }
      }
      // Time: epoch milliseconds, in order, during the run.
      const times = lines.map((line) => line.time);
      expect(times).toStrictEqual([...times].sort((a, b) => a - b));
      expect(Math.abs(times[0] - Date.now())).toBeLessThan(10 * 60_000);
      // Nothing a caller would not want kept: the key (in a header, or by mistake in the URL), the idempotency key, the notes, a customer id from the query, the webhook secret.
      for (const secretText of [
        key,
        key.slice(4),
        idempotencyKey,
        'door code 4711',
        'customer_id=contact_abc123',
        secret,
        secret.replace(/^whsec_/, ''),
      ]) {
        expect(output).not.toContain(secretText);
      }
      expect(lines.filter((line) => /shutting down/.test(line.msg))).toHaveLength(1);
      // The last line says the stop finished (exit 0), so a pipeline tells a clean stop from a kill.
      expect(lines[lines.length - 1]).toMatchObject({ level: 30, msg: 'shut down cleanly; exiting 0' });
    });

    it('an exception no code catches ends the process with one fatal JSON line, its stack inside and keys redacted, and exit code 1', async () => {
      const server = await startServer(
        serverEnv({ NODE_OPTIONS: `--require ${CRASH}`, CRASH_KIND: 'exception' }),
      );
      const before = await fetch(`${server.url}/api/orders/order_01M9615Y0K4V5FWF75N5VF00F6`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(before.status).toBe(404);
      server.child.kill('SIGUSR2');
      // It was Node's own report on stderr: the source line, a caret, the stack and "Node.js v20…", lines no JSON reader parses, with the key in clear.
      expect(await exitCode(server)).toBe(1);
      const output = server.output();
      const lines = readAsPipeline(output);
      const fatal = lines.filter((line) => line.level === 60);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({
        msg: 'uncaught exception; exiting',
        err: { type: 'Error', message: 'crash test: a bug with ogk_[redacted] in its message' },
      });
      expect((fatal[0].err as { stack: string }).stack).toMatch(/crash-on-signal\.js/);
      expect(output).not.toMatch(/ogk_k{10}/);
      // The request served before the crash was written out, not lost in the buffer.
      expect(lines.filter((line) => line.msg === 'request completed' && line.status === 404)).toHaveLength(1);
    });

    it('a promise rejection no code handles is one error line with keys redacted, and the process keeps serving', async () => {
      const { output, code } = await withServer(
        { NODE_OPTIONS: `--require ${CRASH}`, CRASH_KIND: 'rejection' },
        async (server) => {
          server.child.kill('SIGUSR2');
          // Any later request shows it is still up; by then the rejection has been reported.
          await new Promise((resolve) => setTimeout(resolve, 500));
          const res = await fetch(`${server.url}/api/orders`, {
            headers: { authorization: `Bearer ${key}` },
          });
          expect(res.status).toBe(200);
        },
      );
      expect(code).toBe(0);
      const lines = readAsPipeline(output);
      expect(lines.filter((line) => line.level >= 50)).toStrictEqual([
        expect.objectContaining({
          level: 50,
          msg: 'unhandled promise rejection',
          err: expect.objectContaining({ message: 'crash test: a bug with ogk_[redacted] in its message' }),
        }),
      ]);
    });

    it('a webhook receiver that never answers: each failed attempt is a warning and the delivery that used up its schedule an error, by ids, never the URL', async () => {
      const { result: orderId, output } = await withServer(
        { WEBHOOK_RETRY_SCHEDULE: '1s', EVENTS_POLL_INTERVAL_MS: '200' },
        async (server) => {
          const res = await fetch(`${server.url}/api/orders`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(ORDER),
          });
          expect(res.status).toBe(201);
          const id = ((await res.json()) as { data: { id: string } }).data.id;
          // Until both attempts of this order's delivery (the first and its one retry) are over. An
          // earlier test's order may have a delivery of its own still due here: it is not this one's.
          const usedUp = () =>
            server.output().split('\n').some((line) => line.includes(`"orderId":"${id}"`) && line.includes('used up its retry schedule'));
          for (let tries = 0; tries < 120 && !usedUp(); tries++) await new Promise((resolve) => setTimeout(resolve, 250));
          return id;
        },
      );
      const lines = readAsPipeline(output).filter((line) => line.component === 'webhooks' && line.orderId === orderId);
      const common = {
        deliveryId: expect.stringMatching(/^whdl_/),
        endpointId: expect.stringMatching(/^whep_/),
        workspaceId: expect.stringMatching(/^ws_/),
        orderId,
        eventType: 'order.created',
        error: expect.stringMatching(/ECONNREFUSED/),
      };
      expect(lines).toStrictEqual([
        expect.objectContaining({
          level: 40,
          msg: 'webhooks: an attempt failed; will retry',
          attempt: 1,
          retryInMs: expect.any(Number),
          ...common,
        }),
        expect.objectContaining({
          level: 50,
          msg: 'webhooks: a delivery failed: it used up its retry schedule',
          attempt: 2,
          ...common,
        }),
      ]);
      expect(output).not.toContain('127.0.0.1:1/hook');
    });
  },
);
