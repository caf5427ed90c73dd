/**
 * `npm run bench:events`: what events cost and how fast they leave.
 *
 * 1. Create throughput with events on and off: REST creates (autocannon,
 *    BENCH_CONNECTIONS connections) against the gateway with EVENTS_OUTBOX=true
 *    (outbox, relay, NATS when it answers) and EVENTS_OUTBOX=false, in
 *    alternating rounds (on, off, on, off …), each on a fresh start.
 * 2. Relay throughput: BENCH_RELAY_EVENTS creates with the relay off, then a
 *    gateway with the relay on drains the backlog; events per second.
 * 3. Commit to publish: creates at an even BENCH_RATE per second (open loop,
 *    `paced.ts`; autocannon's rate option sends each second's share in a
 *    burst) with the relay on; p50 and p99 of (arrival at a NATS subscriber −
 *    the change's time), per event (with NATS; without it, only the gateway's
 *    latency histogram), and the creates' own latency.
 *
 * Settings: DATABASE_URL (a fresh database on that server; embedded
 * otherwise), BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (3, unmeasured load
 * before each round), BENCH_CONNECTIONS (10),
 * BENCH_RELAY_EVENTS (5000), BENCH_RATE (200), BENCH_NATS_URL (nats://127.0.0.1:4222;
 * "off" for none), BENCH_EVENTS_ONLY_CREATES=1 (part 1 only), BENCH_EVENTS_RELAY=false
 * (part 1 with the relay off in both modes: what the outbox write alone costs).
 * Writes bench/results/events.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { paced, quantile } from './paced';
import { intEnv } from './settings';

const ROOT = path.resolve(__dirname, '..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/cli.ts')];
const rounds = intEnv('BENCH_ROUNDS', 3, 1, 20);
const seconds = intEnv('BENCH_SECONDS', 5, 1, 120);
// Load before each measured round, unmeasured: a fresh process needs a few seconds before V8 has optimised its hot paths.
const warmupSeconds = intEnv('BENCH_WARMUP_SECONDS', 3, 0, 60);
const connections = intEnv('BENCH_CONNECTIONS', 10, 1, 256);
const relayEvents = intEnv('BENCH_RELAY_EVENTS', 5000, 100, 1_000_000);
const rate = intEnv('BENCH_RATE', 200, 1, 10_000);
const natsSetting = process.env.BENCH_NATS_URL?.trim() || 'nats://127.0.0.1:4222';
const onlyCreates = process.env.BENCH_EVENTS_ONLY_CREATES === '1';
const relayInCreates = process.env.BENCH_EVENTS_RELAY !== 'false';

const BODY = JSON.stringify({
  customer_id: 'bench',
  items: [
    { product_id: 'prod_001', name: 'Premium Widget', quantity: 2, price: 99.0, sku: 'WGT-PRE' },
    { product_id: 'prod_002', name: 'Widget Accessory', quantity: 1, price: 29.0, sku: 'WGT-ACC' },
  ],
  total: 227.0,
  currency: 'USD',
  notes: 'bench',
});

/** Prints the report and writes it to bench/results/events.json. */
function writeReport(report: object): void {
  const text = `${JSON.stringify(report, null, 2)}\n`;
  process.stdout.write(text);
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/events.json'), text);
}

const children = new Set<ChildProcess>();

function natsAnswers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const parsed = new URL(url);
    const socket = net.connect({ host: parsed.hostname, port: Number(parsed.port || 4222) });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('INFO ')));
  });
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')}: ${err}`))));
  });
}

async function startGateway(env: NodeJS.ProcessEnv): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...CLI, 'serve'], { cwd: ROOT, env: { ...env, PORT: '0', LOG_LEVEL: 'info' } });
  children.add(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${output.slice(-2000)}`)), 180_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
      if (output.length > 100_000) output = output.slice(-10_000);
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`gateway exited (${code}): ${output.slice(-2000)}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => {
          children.delete(child);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function load(url: string, key: string, options: { duration?: number; amount?: number }) {
  const result = await autocannon({
    url: `${url}/api/orders`,
    connections,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: BODY,
    ...options,
  });
  return { perSecond: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, total: result.requests.total };
}

async function main(): Promise<void> {
  const cleanups: (() => Promise<void>)[] = [];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    METRICS_TOKEN: 'bench-metrics-token-0123456789',
    RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
    MAX_EVENT_LOOP_DELAY_MS: '0',
  };
  let query: (sql: string) => Promise<Record<string, unknown>[]>;
  if (process.env.DATABASE_URL) {
    const name = `og_bench_events_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    const client = new Client({ connectionString: env.DATABASE_URL });
    query = async (sql) => {
      if (!(client as unknown as { _connected?: boolean })._connected) await client.connect();
      return (await client.query(sql)).rows as Record<string, unknown>[];
    };
    cleanups.push(async () => {
      await client.end().catch(() => undefined);
      const dropper = new Client({ connectionString: process.env.DATABASE_URL });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    });
  } else {
    delete env.DATABASE_URL;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-bench-events-'));
    env.DATA_DIR = dir;
    // The embedded database belongs to one process: read it with the CLI's own engine while no gateway runs.
    query = async () => {
      throw new Error('query() needs a server database');
    };
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const nats = natsSetting !== 'off' && (await natsAnswers(natsSetting)) ? natsSetting : undefined;
  const stream = `BENCH_${randomBytes(4).toString('hex')}`;
  if (nats) Object.assign(env, { NATS_URL: nats, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: `bench_${stream.toLowerCase()}` });
  try {
    const key = (JSON.parse(await run(['apikey', 'create', '--workspace', 'bench', '--json'], env)) as { key: string }).key;
    const report: Record<string, unknown> = {
      database: env.DATABASE_URL ? 'postgres' : 'embedded',
      nats: nats ? `${nats} (stream ${stream})` : 'none',
      connections,
      relayDuringCreates: relayInCreates,
    };

    // 1. Creates with events on and off, alternating.
    const on: number[] = [];
    const off: number[] = [];
    const p99 = { on: [] as number[], off: [] as number[] };
    for (let round = 1; round <= rounds; round++) {
      for (const mode of ['on', 'off'] as const) {
        const gateway = await startGateway({ ...env, EVENTS_OUTBOX: String(mode === 'on'), EVENTS_RELAY: String(relayInCreates) });
        if (warmupSeconds > 0) await load(gateway.url, key, { duration: warmupSeconds });
        const result = await load(gateway.url, key, { duration: seconds });
        await gateway.stop();
        if (result.non2xx || result.errors) throw new Error(`round ${round} (${mode}): ${result.non2xx} non-2xx, ${result.errors} errors`);
        (mode === 'on' ? on : off).push(result.perSecond);
        p99[mode].push(result.p99);
        process.stdout.write(`round ${round} events ${mode}: ${result.perSecond.toFixed(0)} creates/s, p99 ${result.p99} ms\n`);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    report.creates = {
      eventsOnPerSecond: median(on),
      eventsOffPerSecond: median(off),
      ratio: Number((median(on) / median(off)).toFixed(3)),
      p99OnMs: median(p99.on),
      p99OffMs: median(p99.off),
      rounds: { on, off },
    };

    if (onlyCreates) {
      writeReport(report);
      return;
    }

    // 2. Relay throughput: a backlog made with the relay off, drained by one relay.
    const writer = await startGateway({ ...env, EVENTS_RELAY: 'false' });
    await load(writer.url, key, { amount: relayEvents });
    await writer.stop();
    const startedAt = Date.now();
    const relay = await startGateway({ ...env, EVENTS_RELAY: 'true', EVENTS_POLL_INTERVAL_MS: '50' });
    const ready = Date.now();
    let backlog = Infinity;
    if (env.DATABASE_URL) {
      for (;;) {
        backlog = Number((await query('select count(*) as n from order_event_queue'))[0]?.n);
        if (backlog === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } else {
      // On the embedded database, read the gateway's own backlog gauge.
      for (;;) {
        const res = await fetch(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${env.METRICS_TOKEN}` } });
        backlog = Number(/^outbox_backlog (\d+)/m.exec(await res.text())?.[1] ?? NaN);
        if (backlog === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const drainedAt = Date.now();
    report.relay = {
      events: relayEvents,
      // The relay starts working as the gateway starts, before it listens: count from the start, a lower bound.
      secondsFromStart: (drainedAt - startedAt) / 1000,
      eventsPerSecondLowerBound: Math.round(relayEvents / ((drainedAt - startedAt) / 1000)),
      secondsAfterListening: (drainedAt - ready) / 1000,
    };
    process.stdout.write(`relay: ${relayEvents} events drained ${((drainedAt - startedAt) / 1000).toFixed(2)} s after the gateway was started\n`);

    // 3. Commit to publish at a steady rate: every event as a NATS subscriber receives it, and the gateway's histogram.
    const arrivals: number[] = [];
    let subscriber: { drain(): Promise<void> } | undefined;
    if (nats) {
      const { connect } = await import('@nats-io/transport-node');
      const nc = await connect({ servers: nats });
      nc.subscribe(`${env.NATS_SUBJECT_PREFIX}.>`, {
        callback: (_error, message) => {
          const event = message.json<{ time: string }>();
          arrivals.push(Date.now() - Date.parse(event.time));
        },
      });
      await nc.flush();
      subscriber = nc;
    }
    const steady = await paced({
      url: `${relay.url}/api/orders`,
      rate,
      seconds: seconds * 2,
      connections,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: BODY,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await subscriber?.drain();
    const metrics = await (await fetch(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${env.METRICS_TOKEN}` } })).text();
    await relay.stop();
    const latency: Record<string, unknown> = {
      rate,
      creates: steady.ok,
      failed: steady.sent - steady.ok,
      createP50Ms: steady.p50,
      createP99Ms: steady.p99,
    };
    if (arrivals.length > 0) {
      const sorted = arrivals.sort((a, b) => a - b);
      Object.assign(latency, {
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        maxMs: sorted.at(-1),
        events: sorted.length,
      });
    }
    latency.histogram = metrics
      .split('\n')
      .filter((line) => line.startsWith('event_publish_latency_seconds_bucket'))
      .map((line) => line.replace('event_publish_latency_seconds_bucket', ''));
    report.commitToPublish = latency;
    writeReport(report);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    if (nats) {
      const { connect } = await import('@nats-io/transport-node');
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const nc = await connect({ servers: nats }).catch(() => undefined);
      if (nc) {
        await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
        await nc.close();
      }
    }
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  for (const child of children) child.kill('SIGKILL');
  process.exitCode = 1;
});
