/**
 * Seat `slow-clients`: slow clients and connection exhaustion, as an SRE paged by Slowloris sees them.
 * slowhttptest (Debian's package, which `.ci/run` installs) trickles headers (Slowloris) and reads
 * answers slowly (Slow Read) against a gateway on 127.0.0.1 with short header and request timeouts;
 * Node's `net` trickles an authenticated body (R-U-Dead-Yet) to `/api/orders` and `/graphql`; `ws`
 * opens WebSockets that never send `connection_init` or break the protocol. Throughout, a normal
 * client (from another loopback address, so that the attack's failures are not counted against it)
 * must still create and read orders, and a subscriber must still hear them.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type TestApp } from '../support/app';
import type { Availability } from '../support/services';

/** As `toolsInstalled` (support/tools.ts), for a tool that has no option that exits 0: `-h` exits 1. */
function slowhttptestInstalled(): Availability {
  if (spawnSync('slowhttptest', ['-h'], { stdio: 'ignore', timeout: 10_000 }).error === undefined)
    return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1')
    throw new Error('REQUIRE_SERVICES=1 but slowhttptest is not on PATH');
  const reason = 'skipped: no slowhttptest on PATH (apt-get install -y slowhttptest; CI runs these)';
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}
const tools = slowhttptestInstalled();

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 4000;
const WAITING_PER_ADDRESS = 10;
const INIT_TIMEOUT_MS = 1500;

let t: TestApp;
let auth = '';
let port = 0;
let home = '';

beforeAll(async () => {
  t = await createTestApp({
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    subscriptionWaitingPerAddress: WAITING_PER_ADDRESS,
    subscriptionInitTimeoutMs: INIT_TIMEOUT_MS,
  });
  auth = await t.bearer('slow-clients');
  await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.http.server.address() as net.AddressInfo).port;
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'og-slow-clients-'));
});

afterAll(async () => {
  await t?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

const ORDER = { customer_id: 'slow', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 };

/** One HTTP request of the normal client, from 127.0.0.2: the attack's address is 127.0.0.1. */
function request(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress: '127.0.0.2',
        method,
        path: url,
        agent: false,
        headers: { authorization: auth, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The normal client creates an order and reads it back: the two statuses. */
async function createAndRead(): Promise<string> {
  const created = await request('POST', '/api/orders', ORDER);
  const id = (created.json.data as { id?: string } | undefined)?.id;
  const read = id ? await request('GET', `/api/orders/${id}`) : { status: 0 };
  return `${created.status} ${read.status}`;
}

async function orderCount(): Promise<number> {
  const [row] = await t.app.db.em.fork().execute<{ n: number }[]>('select count(*)::int as n from orders');
  return row?.n ?? 0;
}

interface Report {
  rows: { second: number; closed: number; connected: number }[];
  /** slowhttptest's reason for ending: "No open connections left" or "Hit test time limit". */
  exit: string;
}

/** Runs slowhttptest (bounded by `-l`); its per-second CSV rows and why it stopped. */
function slowhttptest(name: string, args: string[]): Promise<Report> {
  const prefix = path.join(home, name);
  return new Promise((resolve, reject) => {
    const child = spawn('slowhttptest', [...args, '-g', '-o', prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const csv = `${prefix}.csv`;
      if (!fs.existsSync(csv)) return reject(new Error(`slowhttptest wrote no report:\n${output}`));
      const rows = fs
        .readFileSync(csv, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(',').map(Number))
        .map(([second = 0, closed = 0, , connected = 0]) => ({ second, closed, connected }));
      // eslint-disable-next-line no-control-regex
      const exit = /Exit status:\s*(?:\x1b\[[0-9;]*m)*([^\n\x1b]+)/.exec(output)?.[1]?.trim() ?? output;
      resolve({ rows, exit });
    });
  });
}

/** Probes the normal client every `everyMs` until `done` settles; the answers, in order. */
async function probeWhile(done: Promise<unknown>, everyMs: number): Promise<string[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const answers: string[] = [];
  while (!finished) {
    await sleep(everyMs);
    answers.push(await createAndRead());
  }
  return answers;
}

describe.skipIf(!tools.up)(`slowhttptest against the gateway ${tools.reason}`, () => {
  it('Slowloris: trickled headers are cut off by HEADERS_TIMEOUT_MS while a normal client creates and reads', async () => {
    // 40 connections at 20 a second, a header line each second, for 8 s.
    const attack = slowhttptest('slowloris', [
      '-H',
      '-c',
      '40',
      '-r',
      '20',
      '-i',
      '1',
      '-l',
      '8',
      '-p',
      '2',
      '-u',
      `http://127.0.0.1:${port}/api/orders`,
    ]);
    const during = await probeWhile(attack, 1000);
    const { rows, exit } = await attack;
    const peak = Math.max(...rows.map((row) => row.connected));
    // How long the slow connections were held, as slowhttptest saw it.
    const firstClose = rows.find((row) => row.closed > 0)?.second;
    process.stdout.write(
      `slowloris: peak ${peak} open, first closed at ${firstClose} s, ended at ${rows.at(-1)?.second} s: ${exit}\n`,
    );
    expect(peak).toBeGreaterThan(30);
    // The gateway closed every slow connection before slowhttptest's 8 s were over (else "Hit test time limit").
    expect(exit).toBe('No open connections left');
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during)).toEqual(new Set(['201 200']));
    expect(await createAndRead()).toBe('201 200');
  }, 60_000);
});

describe.skipIf(!tools.up)(`slowhttptest's Slow Read ${tools.reason}`, () => {
  it('40 clients that read the OpenAPI document a few bytes a second do not keep a normal client from creating and reading', async () => {
    // Tiny receive windows, 32 bytes a second, three requests pipelined on each connection, for 6 s.
    const attack = slowhttptest('slow-read', [
      '-X',
      '-c',
      '40',
      '-r',
      '20',
      '-k',
      '3',
      '-n',
      '1',
      '-w',
      '1',
      '-y',
      '64',
      '-z',
      '32',
      '-l',
      '6',
      '-p',
      '2',
      '-u',
      `http://127.0.0.1:${port}/docs/json`,
    ]);
    const during = await probeWhile(attack, 1000);
    const { rows, exit } = await attack;
    const peak = Math.max(...rows.map((row) => row.connected));
    process.stdout.write(`slow read: peak ${peak} open, ended at ${rows.at(-1)?.second} s: ${exit}\n`);
    expect(peak).toBeGreaterThan(30);
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during)).toEqual(new Set(['201 200']));
    expect(await createAndRead()).toBe('201 200');
  }, 60_000);
});

/**
 * R-U-Dead-Yet with a valid key (slowhttptest cannot send one, and without it the gateway answers
 * 401 before reading any body): a whole, valid create whose body arrives a few bytes at a time,
 * slower than REQUEST_TIMEOUT_MS allows. Resolves with the raw answer once the gateway closes.
 */
function trickledBody(url: string, body: string, headers = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect({ port, host: '127.0.0.1' }, () => {
      socket.write(
        `POST ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n`,
      );
      // 2 bytes every 200 ms: the body needs far longer than REQUEST_TIMEOUT_MS, and its last byte never goes.
      timer = setInterval(() => {
        if (sent < body.length - 1 && !socket.destroyed) socket.write(body.slice(sent, (sent += 2)));
      }, 200);
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(answer);
    });
    setTimeout(
      () => reject(new Error(`the gateway kept a trickled body open; answer so far: ${answer}`)),
      4 * REQUEST_TIMEOUT_MS,
    ).unref();
  });
}

const bodyOf = (answer: string) =>
  JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

describe('a body trickled slower than REQUEST_TIMEOUT_MS (R-U-Dead-Yet)', () => {
  it('POST /api/orders: 408 REQUEST_TIMEOUT in the REST envelope, and no order from the part received', async () => {
    const before = await orderCount();
    const answer = await trickledBody('/api/orders', JSON.stringify(ORDER));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(answer)).toMatchObject({ success: false, error: { code: 'REQUEST_TIMEOUT' } });
    expect(await orderCount()).toBe(before);
    expect(await createAndRead()).toBe('201 200');
  }, 30_000);

  it('POST /graphql: 408 as a GraphQL response (orders-api §8: every refusal on /graphql is one), and no order', async () => {
    const before = await orderCount();
    const query =
      'mutation { createOrder(input: {customerId: "slow", items: [{productId: "p", quantity: 1, price: "5"}], total: "5"}) { order { id } } }';
    const answer = await trickledBody(
      '/graphql',
      JSON.stringify({ query }),
      'Accept: application/graphql-response+json\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/\r\ncontent-type: application\/graphql-response\+json/i);
    expect(bodyOf(answer)).toEqual({
      errors: [{ message: 'The request did not arrive in time', extensions: { code: 'REQUEST_TIMEOUT' } }],
    });
    expect(await orderCount()).toBe(before);
  }, 30_000);
});

/** A raw graphql-transport-ws socket from `localAddress`, with how it closed. */
async function openSocket(localAddress = '127.0.0.1') {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { localAddress });
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  let closed: number | undefined;
  socket.on('message', (data) =>
    messages.push(JSON.parse((data as Buffer).toString()) as (typeof messages)[number]),
  );
  socket.on('close', (code) => (closed = code));
  socket.on('error', () => undefined);
  await new Promise((resolve) => {
    socket.once('open', resolve);
    socket.once('close', resolve);
  });
  return {
    socket,
    messages,
    closedWith: async () => {
      await expect.poll(() => closed, { timeout: 15_000 }).toBeDefined();
      return closed;
    },
  };
}

describe('WebSocket clients that break the protocol', () => {
  it('each is closed with its code, with no console message and no error-level line per message (log flooding)', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const before = t.logs.length;
    try {
      for (let i = 0; i < 20; i += 1) {
        const s = await openSocket();
        s.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
        s.socket.send('x'.repeat(70_000)); // over the 64 KiB limit
        expect(await s.closedWith()).toBe(1009);
      }
      // A frame that is not UTF-8: 1007.
      const s = await openSocket();
      s.socket.send(Buffer.from([0xff, 0xfe, 0xfd]), { binary: false });
      expect(await s.closedWith()).toBe(1007);
      expect(consoleError).not.toHaveBeenCalled();
      const lines = t.logs.slice(before);
      expect(lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
      // One warning names what happened; the rest are counted in the next one, not written each.
      const warnings = lines.filter((line) => line.level === 40);
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings.length).toBeLessThanOrEqual(2);
      expect(warnings[0]).toMatchObject({
        msg: 'subscriptions: closed a connection that broke the WebSocket protocol',
        code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      });
    } finally {
      consoleError.mockRestore();
    }
  }, 60_000);
});

describe('WebSockets that never send connection_init, many from one address', () => {
  it('past SUBSCRIPTION_WAITING_PER_ADDRESS each is closed with 4432; the rest get 4408 after SUBSCRIPTION_INIT_TIMEOUT_MS; a subscriber from elsewhere hears its order', async () => {
    // The normal subscriber, from another address.
    const reader = await openSocket('127.0.0.2');
    reader.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
    await expect.poll(() => reader.messages.some((message) => message.type === 'connection_ack')).toBe(true);
    reader.socket.send(
      JSON.stringify({
        id: 'created',
        type: 'subscribe',
        payload: { query: 'subscription { orderCreated { id customerId } }' },
      }),
    );
    const { workspaceId } = await t.app.services.auth.authenticate(auth);
    await expect.poll(() => t.app.feed.listening(workspaceId)).toBe(1);

    const before = t.logs.length;
    const flood = await Promise.all(
      Array.from({ length: 3 * WAITING_PER_ADDRESS }, () => openSocket('127.0.0.1')),
    );
    const codes = await Promise.all(flood.map((s) => s.closedWith()));
    const counted = (code: number) => codes.filter((c) => c === code).length;
    expect(counted(4432)).toBe(2 * WAITING_PER_ADDRESS);
    expect(counted(4408)).toBe(WAITING_PER_ADDRESS);
    // The refusals were logged once (or twice, across the warning interval), not each.
    const refusals = t.logs
      .slice(before)
      .filter((line) => String(line.msg).startsWith('subscriptions: refused a connection'));
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(2);

    // Once they are gone, the address may open sockets again, and a normal client from it subscribes.
    const again = await openSocket('127.0.0.1');
    again.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
    await expect.poll(() => again.messages.some((message) => message.type === 'connection_ack')).toBe(true);
    again.socket.close();

    expect(await createAndRead()).toBe('201 200');
    await expect
      .poll(() => reader.messages.filter((message) => message.type === 'next').length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    reader.socket.close();
  }, 60_000);
});
