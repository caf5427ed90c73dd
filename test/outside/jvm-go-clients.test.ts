/**
 * Integrators on the JVM and in Go, with their standard libraries only, against a live gateway:
 *
 * - test/fixtures/jvm-go/OrdersClient.java (`java OrdersClient.java`, Java 17): java.net.http's
 *   HttpClient with its defaults (HTTP/2 preferred, so `Upgrade: h2c` on every plain-http request;
 *   one kept-alive pool; a stream body sent chunked), REST create/retry/get/update/list, GraphQL
 *   createOrder/order/orders, and a subscription over graphql-transport-ws with the JDK's WebSocket.
 * - test/fixtures/jvm-go/orders_client.go (`go run`): net/http (gzip asked and undone by itself,
 *   chunked bodies) and encoding/json with typed structs and DisallowUnknownFields: every field it
 *   reads is declared, money as json.Number (REST) or string (GraphQL), timestamps as time.Time.
 * - test/fixtures/jvm-go/webhook_receiver.go: a receiver verifying Standard Webhooks with crypto/hmac.
 *
 * Each is skipped when its binary is missing, and fails instead under REQUIRE_SERVICES=1 (CI, whose
 * .ci/run installs openjdk-17-jdk-headless and golang-go).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, createTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/nats';
import { spawnTracked, stopChild } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'jvm-go');
const java = toolsInstalled({ java: ['-version'] }, 'apt-get install -y openjdk-17-jdk-headless');
const go = toolsInstalled({ go: ['version'] }, 'apt-get install -y golang-go');
const TIMEOUT = 180_000;
/** The Go toolchain, offline: standard library only, nothing downloaded; its build cache outside the clone. */
const GO_ENV = { GOPROXY: 'off', GOFLAGS: '-mod=mod', GOCACHE: path.join(os.tmpdir(), 'order-gateway-go-build'), HOME: os.tmpdir() };

let t: TestApp;
let base = '';
let key = '';

beforeAll(async () => {
  if (!java.up && !go.up) return;
  t = await createTestApp({ rateLimitPerMinute: 1_000_000, webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  key = (await t.bearer('jvm-go')).slice('Bearer '.length);
}, TIMEOUT);
afterAll(() => t?.close());

/** Runs a program to its end with the gateway's address and key; its stdout. */
async function run(command: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawnTracked(command, args, {
    cwd: FIXTURES,
    env: { PATH: process.env.PATH ?? '', ORDERS_BASE: base, ORDERS_KEY: key, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${command} exited ${code}:\n${stderr}\n${stdout}`);
  return stdout;
}

interface JavaCall {
  name: string;
  status: number;
  version: string;
  headers: Record<string, string>;
  body: string;
}

describe.skipIf(!java.up)(`a JVM integration with java.net.http's default HttpClient ${java.reason}`, { timeout: TIMEOUT }, () => {
  let calls: Record<string, JavaCall>;
  beforeAll(async () => {
    const lines = (await run('java', ['OrdersClient.java'])).trim().split('\n');
    calls = Object.fromEntries(lines.map((line) => JSON.parse(line) as JavaCall).map((call) => [call.name, call]));
  }, TIMEOUT);
  const body = (name: string) => JSON.parse(calls[name]?.body ?? 'null');

  it('REST answers every request, though each asks for h2c: over HTTP/1.1 on kept-alive connections, in the envelope', () => {
    for (const name of ['list-first', 'create', 'create-retry', 'create-chunked', 'get', 'update', 'list', 'bad-total', 'graphql-create', 'graphql-order', 'graphql-orders']) {
      expect(calls[name]?.version, name).toBe('HTTP_1_1');
      expect(calls[name]?.headers.connection, name).toBe('keep-alive');
      expect(calls[name]?.headers['content-type'], name).toBe('application/json; charset=utf-8');
    }
    expect(calls['list-first']?.status).toBe(200);
    expect(body('list-first')).toMatchObject({ success: true, data: [] });
    const created = body('create').data;
    expect(calls.create?.status).toBe(201);
    expect(calls.create?.headers.location).toBe(`/api/orders/${created.id}`);
    expect(created).toMatchObject({ customer_id: 'jvm-1', currency: 'USD', total: 198, status: 'pending' });
    expect(calls.create?.body).toContain('"total":198.00');
    expect(calls['create-retry']).toMatchObject({ status: 201, headers: { 'idempotent-replayed': 'true' } });
    expect(calls['create-retry']?.body).toBe(calls.create?.body);
    expect(calls['create-chunked']?.status).toBe(201);
    expect(body('create-chunked').data.customer_id).toBe('jvm-2');
    expect(body('get').data).toStrictEqual(created);
    expect(calls.update?.status).toBe(200);
    expect(body('update').data).toMatchObject({ status: 'paid', tracking_number: 'JNE-1' });
    expect(body('list').data.map((order: { id: string }) => order.id)).toStrictEqual([created.id]);
    expect(calls['bad-total']?.status).toBe(422);
    expect(body('bad-total').error).toMatchObject({ code: 'TOTAL_MISMATCH', details: [{ field: 'total', message: 'must be 198.00' }] });
  });

  it('GraphQL createOrder, order and orders answer as over any client', () => {
    const created = body('graphql-create').data.createOrder;
    expect(created.userErrors).toStrictEqual([]);
    expect(created.order).toMatchObject({ total: '3.30', currency: 'USD', status: 'PENDING' });
    expect(body('graphql-order').data.order).toStrictEqual({
      id: created.order.id,
      status: 'PENDING',
      total: '3.30',
      items: [{ productId: 'p-2', quantity: 3, price: '1.10', subtotal: '3.30' }],
    });
    expect(body('graphql-orders').data.orders).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: true } });
  });

  it("the JDK's WebSocket runs a subscription over graphql-transport-ws", () => {
    expect(calls['ws-ack']).toMatchObject({ version: 'graphql-transport-ws', body: '{"type":"connection_ack"}' });
    const id = body('create').data.id as string;
    expect(body('ws-next')).toStrictEqual({ id: '1', type: 'next', payload: { data: { orderUpdated: { id, status: 'SHIPPED', trackingNumber: 'JNE-1' } } } });
  });
});

describe.skipIf(!go.up)(`a Go integration with net/http and strict encoding/json ${go.reason}`, { timeout: TIMEOUT }, () => {
  it('reads every answer into typed structs with DisallowUnknownFields: REST create, retry, chunked create, update, gzip pages, errors; GraphQL', async () => {
    const report = JSON.parse(await run('go', ['run', 'orders_client.go'], GO_ENV));
    expect(report.create).toMatchObject({
      status: 201,
      total: 3.3,
      currency: 'IDR',
      created_at_utc: true,
      history: 1,
      retry_status: 201,
      replayed: 'true',
      same_order: true,
      chunked_status: 201,
      chunked_customer: 'go-2',
    });
    expect(report.create.location).toMatch(/^\/api\/orders\/order_/);
    expect(report.update).toStrictEqual({
      read_status: 200,
      read_total: 3.3,
      status: 200,
      order_status: 'paid',
      tracking_number: 'JNE-9',
      metadata: { batch: 7 },
      history: 2,
      updated_after_created: true,
    });
    expect(report.list).toStrictEqual({ pages: 3, orders: 12, gzipped: true });
    expect(report.errors).toStrictEqual({
      not_found: [404, 'NOT_FOUND', true],
      mismatch: [422, 'TOTAL_MISMATCH', [{ field: 'total', message: 'must be 3.30' }]],
    });
    expect(report.graphql).toStrictEqual({
      user_errors: 0,
      total: '1000',
      read_total: '1000',
      read_price: '500',
      status: 'PENDING',
      list_count: 1,
      created_utc: true,
    });
  });

  describe('a Go webhook receiver verifying Standard Webhooks with crypto/hmac', () => {
    let receiver: ChildProcess | undefined;
    const lines: { type: string; sequence: number; order_status: string; decode_error?: string; headers: Record<string, string>; body_b64: string }[] = [];
    const binary = path.join(os.tmpdir(), `order-gateway-webhook-receiver-${process.pid}`);
    afterEach(async () => {
      if (receiver) await stopChild(receiver);
      fs.rmSync(binary, { force: true });
    });

    it('verifies each delivery over its raw bytes and reads the CloudEvent strictly', async () => {
      // A workspace of its own: the endpoint hears no event of the clients above.
      const hooksKey = await t.bearer('go-hooks');
      const c = clientFor(() => t, () => hooksKey);
      // Built, then run as its own process (`go run` would leave the program running when stopped).
      await run('go', ['build', '-o', binary, 'webhook_receiver.go'], GO_ENV);
      receiver = spawnTracked(binary, [], { env: {}, stdio: ['ignore', 'pipe', 'inherit'] });
      const output = readline.createInterface({ input: receiver.stdout! });
      const first = await new Promise<string>((resolve) => output.once('line', resolve));
      output.on('line', (line) => lines.push(JSON.parse(line) as (typeof lines)[number]));
      const hooks = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
      const created = await c.gql(
        'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { message } } }',
        { input: { url: `${hooks}/hooks` } },
      );
      const { secret } = created.json().data.createWebhookEndpoint as { secret: string };
      expect((await fetch(`${hooks}/secret`, { method: 'POST', body: secret })).status).toBe(204);
      const order = await c.rest.post('/api/orders', { customer_id: 'go-hooks', items: [{ product_id: 'p', name: 'Grüße ☕', quantity: 1, price: 2.5 }], total: 2.5 });
      expect(order.statusCode).toBe(201);
      const id = order.json().data.id as string;
      expect((await c.rest.put(`/api/orders/${id}`, { status: 'paid' })).statusCode).toBe(200);
      await eventually(async () => lines.length >= 3, 20_000, 'three deliveries');
      // Each order's events in sequence; the two of one change in either order.
      expect(lines[0]).toMatchObject({ type: 'order.created', sequence: 1, order_status: 'pending' });
      expect(new Set(lines.slice(1).map((line) => `${line.type} ${line.sequence} ${line.order_status}`))).toStrictEqual(
        new Set(['order.updated 2 paid', 'order.status_changed 2 paid']),
      );
      for (const line of lines) {
        expect(line).toMatchObject({ verified: true, reason: '', content_type: 'application/json', subject: id, time_utc: true, id_matches: true, repeat: false });
        expect(line.decode_error).toBeUndefined();
      }

      // The README's verify() (in "From Java or Go"), as written, on a real delivery.
      const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
      const block = /```go\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('**Webhooks in Go**')))?.[1];
      expect(block).toContain('func verify(secret string, h http.Header, body []byte) bool {');
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'order-gateway-readme-go-'));
      try {
        fs.writeFileSync(path.join(folder, 'readme_verify.go'), readmeVerifyProgram(block ?? ''));
        const child = spawnTracked('go', ['run', 'readme_verify.go'], { cwd: folder, env: { PATH: process.env.PATH ?? '', ...GO_ENV } });
        let stdout = '';
        child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stdin?.end(JSON.stringify({ secret, other: `whsec_${randomBytes(32).toString('base64')}`, headers: lines[0]?.headers, body_b64: lines[0]?.body_b64 }));
        const [code] = (await once(child, 'close')) as [number | null];
        expect(code).toBe(0);
        expect(JSON.parse(stdout)).toStrictEqual({ 'as received': true, rotation: true, 'body changed': false, stale: false, 'other secret': false });
      } finally {
        fs.rmSync(folder, { recursive: true, force: true });
      }
    });
  });
});

/** A Go program around the README's verify(): reads a delivery on stdin, prints what verify() says of it and of altered copies. */
function readmeVerifyProgram(block: string): string {
  return `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

${block}
func main() {
	var c struct {
		Secret  string            \`json:"secret"\`
		Other   string            \`json:"other"\`
		Headers map[string]string \`json:"headers"\`
		Body    string            \`json:"body_b64"\`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&c); err != nil {
		panic(err)
	}
	headers := func(change map[string]string) http.Header {
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		for k, v := range change {
			h.Set(k, v)
		}
		return h
	}
	body, _ := base64.StdEncoding.DecodeString(c.Body)
	changed := []byte(strings.Replace(string(body), "go-hooks", "go-hookz", 1))
	stale := strconv.FormatInt(time.Now().Unix()-6*60, 10)
	out, _ := json.Marshal(map[string]bool{
		"as received":  verify(c.Secret, headers(nil), body),
		"rotation":     verify(c.Secret, headers(map[string]string{"webhook-signature": "v1,AAAA " + c.Headers["webhook-signature"]}), body),
		"body changed": verify(c.Secret, headers(nil), changed),
		"stale":        verify(c.Secret, headers(map[string]string{"webhook-timestamp": stale}), body),
		"other secret": verify(c.Other, headers(nil), body),
	})
	fmt.Println(string(out))
}
`;
}
