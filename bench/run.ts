/**
 * `npm run bench`: the gateway side by side with the hand-written baseline
 * (bench/baseline-server.ts), as issue 7 asks.
 *
 * One run: build the gateway when dist/ is stale; make a throwaway database (a
 * new database on the DATABASE_URL server, or an embedded DATA_DIR in a temp
 * folder); migrate it and create a workspace and key with the gateway's CLI;
 * start the gateway (and, on a real server, the baseline) as child processes
 * on free ports of 127.0.0.1; check that both answer the benchmark's request
 * and its bad variants alike; then drive them with autocannon, taking the
 * targets in turns (A B A B …) for REST create, GraphQL create, GET by id and
 * the list. Afterwards it checks in the database that every 2xx create is an
 * order with its items and a unique, gap-free number, prints a table and
 * writes bench/results/latest.json.
 *
 * Settings (environment):
 *   DATABASE_URL           real PostgreSQL server (a fresh database is created on it and dropped)
 *   BENCH_ROUNDS           rounds per path and target (default 5)
 *   BENCH_SECONDS          seconds per round (default 5)
 *   BENCH_WARMUP_SECONDS   unmeasured warm-up per path and target (default 2; 0 = none)
 *   BENCH_CONNECTIONS      concurrent connections (default 10)
 *   BENCH_RUNNER           dist (default: node dist/…, built first when stale) or swc (node -r @swc-node/register src/…)
 *   BENCH_BASELINE_MODE    single (default: key lookup, counter, order and items in one statement)
 *                          or tx (BEGIN, key lookup, the CTE statement, COMMIT: four round trips)
 *   BENCH_PATHS            comma list of rest-create,graphql-create,get,list (default: all)
 *   BENCH_GATEWAY_LOG_LEVEL  LOG_LEVEL for the gateway (default: the gateway's own default)
 *   DB_POOL_MAX            passed to the gateway; the baseline uses the same pool size (default 10)
 *   BENCH_CPU_PROF         a folder: the gateway runs with --cpu-prof and writes its profile there on exit
 *
 * The gateway runs with NODE_ENV=production and its per-key rate limit raised
 * to RATE_LIMIT_PER_MINUTE=1000000 (unless that is set): the limiter still runs
 * on every request but never refuses one. Only 127.0.0.1 is ever targeted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { transformFileSync } from '@swc/core';
import autocannon from 'autocannon';
import { Client, type QueryResultRow } from 'pg';
import { ulid } from 'ulid';

const ROOT = path.resolve(__dirname, '..');
const HOST = '127.0.0.1';
const RESULTS = path.join(__dirname, 'results', 'latest.json');
const ITEMS_PER_ORDER = 2;
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Settings

type PathKey = 'rest-create' | 'graphql-create' | 'get' | 'list';
const ALL_PATHS: PathKey[] = ['rest-create', 'graphql-create', 'get', 'list'];

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

function choiceEnv<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

const settings = {
  databaseUrl: process.env.DATABASE_URL?.trim() || undefined,
  rounds: intEnv('BENCH_ROUNDS', 5, 1, 50),
  seconds: intEnv('BENCH_SECONDS', 5, 1, 120),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 2, 0, 60),
  connections: intEnv('BENCH_CONNECTIONS', 10, 1, 256),
  runner: choiceEnv('BENCH_RUNNER', ['dist', 'swc'] as const, 'dist'),
  baselineMode: choiceEnv('BENCH_BASELINE_MODE', ['single', 'tx'] as const, 'single'),
  paths: (process.env.BENCH_PATHS?.trim() || ALL_PATHS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean) as PathKey[],
  gatewayLogLevel: process.env.BENCH_GATEWAY_LOG_LEVEL?.trim() || undefined,
  poolMax: intEnv('DB_POOL_MAX', 10, 2, 500),
  cpuProfDir: process.env.BENCH_CPU_PROF?.trim()
    ? path.resolve(process.env.BENCH_CPU_PROF.trim())
    : undefined,
};
for (const name of settings.paths) {
  if (!ALL_PATHS.includes(name))
    throw new Error(`BENCH_PATHS: unknown path "${name}"; known: ${ALL_PATHS.join(', ')}`);
}
const realPostgres = settings.databaseUrl !== undefined;

// ---------------------------------------------------------------------------
// Clean-up: children are always killed, the database dropped, temp folders removed.

const children = new Set<ChildProcess>();
const cleanups: { name: string; run: () => Promise<void> }[] = [];
let aborting: string | undefined;
let currentLoad: autocannon.Instance | undefined;

function onCleanup(name: string, run: () => Promise<void>): void {
  cleanups.push({ name, run });
}

async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop() as { name: string; run: () => Promise<void> };
    try {
      await withTimeout(step.run(), 30_000, `clean-up: ${step.name}`);
    } catch (error) {
      process.stderr.write(`bench: clean-up step "${step.name}" failed: ${describe(error)}\n`);
    }
  }
}

// Last resort when the process exits anyway: no child outlives the bench.
process.on('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function abort(reason: string, exitCode: number): void {
  if (aborting) {
    process.stderr.write(`bench: ${reason} again; exiting now\n`);
    process.exit(exitCode);
  }
  aborting = reason;
  process.stderr.write(`\nbench: ${reason}; stopping and cleaning up…\n`);
  currentLoad?.stop();
  void cleanUp().finally(() => process.exit(exitCode));
}
process.on('SIGINT', () => abort('interrupted', 130));
process.on('SIGTERM', () => abort('terminated', 143));

// ---------------------------------------------------------------------------
// Small helpers

const describe = (error: unknown) =>
  error instanceof Error ? (error.stack ?? error.message) : String(error);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const round1 = (value: number) => Math.round(value * 10) / 10;
const round2 = (value: number) => Math.round(value * 100) / 100;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle])
    : ((sorted[middle - 1]) + (sorted[middle])) / 2;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    'DATABASE_URL',
    'DATA_DIR',
    'PORT',
    'HOST',
    'LOG_LEVEL',
    'NODE_ENV',
    'MIGRATE_ON_START',
  ])
    delete env[name];
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/** Runs a command to completion (bounded in time); resolves with its stdout. */
function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(stdout);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr.slice(-4000)}${stdout.slice(-2000)}`,
          ),
        );
    });
  });
}

// ---------------------------------------------------------------------------
// The gateway's command, from dist/ (built when stale) or from src/ through SWC

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

async function prepareGatewayCommand(notes: string[]): Promise<{ cli: string[]; built: boolean }> {
  if (settings.runner === 'swc')
    return { cli: ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/cli.ts')], built: false };
  const entry = path.join(ROOT, 'dist/cli/cli.js');
  const stale = !fs.existsSync(entry) || newestMtime(path.join(ROOT, 'src')) > fs.statSync(entry).mtimeMs;
  if (stale) {
    log('bench: dist/ is missing or older than src/; running npm run build …');
    const startedAt = Date.now();
    try {
      await runCommand('npm', ['run', 'build', '--silent'], process.env, 300_000);
    } catch (error) {
      // tsc still emits JavaScript when it finds type errors; measure that rather than a stale build.
      const emitted = fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= startedAt - 1000;
      if (!emitted) throw error;
      const firstError =
        describe(error)
          .split('\n')
          .find((line) => /error TS\d+/.test(line)) ?? 'see npm run build';
      notes.push(
        `npm run build reported type errors (${firstError.trim()}); tsc emitted dist/ anyway and that is what was measured`,
      );
      log(`bench: ${notes[notes.length - 1]}`);
    }
  }
  return { cli: [entry], built: stale };
}

/**
 * The baseline compiled to plain JavaScript, so that it runs without a
 * require hook, like the gateway from dist/. It is written under
 * node_modules/.cache so that its imports resolve from the project.
 */
function compileBaseline(): string {
  const out = path.join(ROOT, 'node_modules', '.cache', 'order-gateway-bench', 'baseline-server.js');
  const { code } = transformFileSync(path.join(__dirname, 'baseline-server.ts'), {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: false,
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
  return out;
}

// ---------------------------------------------------------------------------
// Long-running servers

interface Server {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  logPath: string;
  exited: Promise<void>;
}

function startServer(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  logDir: string,
  ipc: boolean,
): Server {
  const logPath = path.join(logDir, `${name}.log`);
  const logFd = fs.openSync(logPath, 'a');
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ipc ? ['ignore', logFd, logFd, 'ipc'] : ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  children.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child);
      resolve();
    });
    child.once('error', () => {
      children.delete(child);
      resolve();
    });
  });
  const server: Server = { name, child, port, url: `http://${HOST}:${port}`, logPath, exited };
  onCleanup(`stop ${name}`, async () => {
    await stopServer(server);
  });
  return server;
}

/** How long a server may take to exit after SIGTERM once the load has stopped. */
const STOP_GRACE_MS = 5000;

/**
 * SIGTERM; if the server has not exited after the grace period, ask the heap
 * probe (when preloaded) to exit the process, so a --cpu-prof profile is
 * still written; SIGKILL as the last resort. Says what happened.
 */
async function stopServer(server: Server): Promise<string> {
  const { child } = server;
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const waitExit = (ms: number) =>
    Promise.race([server.exited.then(() => true), sleep(ms).then(() => false)]);
  if (gone()) return `had already exited (${child.exitCode ?? child.signalCode})`;
  const started = Date.now();
  child.kill('SIGTERM');
  if (await waitExit(STOP_GRACE_MS))
    return `exited ${child.exitCode ?? child.signalCode} ${Date.now() - started} ms after SIGTERM`;
  let outcome = `did not exit within ${STOP_GRACE_MS} ms of SIGTERM`;
  if (child.connected) {
    child.send({ type: 'bench:exit' });
    if (await waitExit(5000)) return `${outcome}; exited when the bench asked it over IPC`;
  }
  child.kill('SIGKILL');
  await waitExit(5000);
  outcome += '; killed with SIGKILL';
  return outcome;
}

function logTail(server: Server, bytes = 3000): string {
  try {
    const text = fs.readFileSync(server.logPath, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '(no log)';
  }
}

/** Keeps a server's log file small between rounds (the gateway logs every request at the default level). */
function trimLog(server: Server): void {
  try {
    if (fs.statSync(server.logPath).size > 32 * MB) fs.truncateSync(server.logPath, 0);
  } catch {
    // The log is only for diagnosis.
  }
}

async function waitReady(server: Server, probe: string, ready: (status: number) => boolean): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (let attempt = 0; attempt < 900 && Date.now() < deadline; attempt++) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.name} exited during start-up:\n${logTail(server)}`);
    }
    try {
      const response = await fetch(`${server.url}${probe}`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (ready(response.status)) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`${server.name} did not become ready within 90 s:\n${logTail(server)}`);
}

// ---------------------------------------------------------------------------
// Memory of the gateway: RSS sampled every 200 ms, heap after GC between rounds

class RssSampler {
  peakKb = 0;
  windowPeakKb = 0;
  samples = 0;
  available = true;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(private readonly pid: number) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), 200);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Starts a new window; returns the previous window's peak. */
  window(): number {
    const peak = this.windowPeakKb;
    this.windowPeakKb = 0;
    return peak;
  }

  private async sample(): Promise<void> {
    if (this.reading || !this.available) return;
    this.reading = true;
    try {
      const status = await fs.promises.readFile(`/proc/${this.pid}/status`, 'utf8');
      const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
      if (Number.isFinite(kb)) {
        this.samples++;
        this.peakKb = Math.max(this.peakKb, kb);
        this.windowPeakKb = Math.max(this.windowPeakKb, kb);
      }
    } catch {
      this.available = false; // no /proc (not Linux), or the process is gone
    } finally {
      this.reading = false;
    }
  }
}

/**
 * What the database sessions of the bench database are doing, sampled every
 * 200 ms during a round (real PostgreSQL only): averages of sessions that are
 * running, waiting on a lock, or idle inside a transaction (that is, waiting
 * for the application while holding what the transaction locked).
 */
class PgSampler {
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private sums: Record<string, number> = {};
  private count = 0;

  constructor(private readonly client: Client) {}

  start(): void {
    this.sums = {};
    this.count = 0;
    this.timer = setInterval(() => void this.sample(), 200);
    this.timer.unref();
  }

  /** Stops and returns the averages since start(). */
  stop(): Record<string, number> | undefined {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.count === 0) return undefined;
    return Object.fromEntries(Object.entries(this.sums).map(([key, sum]) => [key, round2(sum / this.count)]));
  }

  private async sample(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const { rows } = await this.client.query<{ kind: string; n: number }>(
        `select case when state = 'active' then 'active, ' || coalesce(wait_event_type || ':' || wait_event, 'running')
                     else coalesce(state, 'unknown') end as kind, count(*)::int as n
           from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
          group by 1`,
      );
      this.count++;
      for (const row of rows) this.sums[row.kind] = (this.sums[row.kind] ?? 0) + row.n;
    } catch {
      // Diagnostics only.
    } finally {
      this.reading = false;
    }
  }
}

interface HeapReading {
  heapUsedMb: number;
  heapTotalMb: number;
  rssMb: number;
  afterGc: boolean;
}

let heapProbeId = 0;
async function probeHeap(server: Server): Promise<HeapReading | null> {
  const { child } = server;
  if (!child.connected) return null;
  const id = ++heapProbeId;
  return new Promise((resolve) => {
    const done = (reading: HeapReading | null) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reading);
    };
    const onMessage = (message: {
      type?: string;
      id?: number;
      heapUsed: number;
      heapTotal: number;
      rss: number;
      gc: boolean;
    }) => {
      if (message?.type !== 'bench:heap' || message.id !== id) return;
      done({
        heapUsedMb: round1(message.heapUsed / MB),
        heapTotalMb: round1(message.heapTotal / MB),
        rssMb: round1(message.rss / MB),
        afterGc: message.gc,
      });
    };
    const timer = setTimeout(() => done(null), 5000);
    child.on('message', onMessage);
    child.send({ type: 'bench:heap', id }, (error) => error && done(null));
  });
}

// ---------------------------------------------------------------------------
// Requests: the seed's order (2 items), in REST and GraphQL form

const REST_BODY = (customer: string, overrides = '') =>
  `{"customer_id":"${customer}","items":[` +
  `{"product_id":"prod_001","name":"Premium Widget","quantity":2,"price":99.00,"sku":"WGT-PRE"},` +
  `{"product_id":"prod_002","name":"Widget Accessory","quantity":1,"price":29.00,"sku":"WGT-ACC"}],` +
  `"total":227.00,"currency":"USD",` +
  `"shipping_address":{"name":"John Doe","address":"123 Main St","city":"Jakarta","state":"DKI","postal_code":"12345","country":"ID"},` +
  `"notes":"Please gift wrap this order"${overrides}}`;

const ORDER_FIELDS = `id orderNumber customerId status
  items { productId name quantity price sku subtotal }
  subtotal shipping tax total currency
  shippingAddress { name company address address2 city state postalCode country phone email }
  billingAddress { name company address address2 city state postalCode country phone email }
  notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt`;

const CREATE_MUTATION = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { order { ${ORDER_FIELDS} } userErrors { field message code } }
}`;

const GRAPHQL_BODY = (price = '99.00') =>
  JSON.stringify({
    query: CREATE_MUTATION,
    variables: {
      input: {
        customerId: 'contact_abc123',
        items: [
          { productId: 'prod_001', name: 'Premium Widget', quantity: 2, price, sku: 'WGT-PRE' },
          { productId: 'prod_002', name: 'Widget Accessory', quantity: 1, price: '29.00', sku: 'WGT-ACC' },
        ],
        total: '227.00',
        currency: 'USD',
        shippingAddress: {
          name: 'John Doe',
          address: '123 Main St',
          city: 'Jakarta',
          state: 'DKI',
          postalCode: '12345',
          country: 'ID',
        },
        notes: 'Please gift wrap this order',
      },
    },
  });

// ---------------------------------------------------------------------------
// Accounting: every 2xx create the bench saw, to compare with the database

const accounting = {
  /** Creates answered 2xx with an order. */
  created: 0,
  /** The ids of those orders (bounded; past the bound only the count is checked). */
  createdIds: [] as string[],
  /** 2xx creates whose id could not be read from the body. */
  withoutId: 0,
  /** Requests abandoned by autocannon at the end of a round: the server may still commit them. */
  abortedInFlight: 0,
};
const MAX_CREATED_IDS = 2_000_000;
/** GET by id cycles through these. */
const orderIds: string[] = [];
const MAX_GET_IDS = 5000;
const ORDER_ID = /"id":"(order_[0-9A-Za-z]+)"/;

/** Books one create that answered 2xx with an order; `body` is its response. */
function recordCreated(body: string): void {
  accounting.created++;
  const id = ORDER_ID.exec(body.slice(0, 200))?.[1];
  if (!id) {
    accounting.withoutId++;
    return;
  }
  if (accounting.createdIds.length < MAX_CREATED_IDS) accounting.createdIds.push(id);
  if (orderIds.length < MAX_GET_IDS) orderIds.push(id);
}

interface Target {
  name: 'gateway' | 'baseline';
  server: Server;
}

interface Probe {
  name: string;
  status: number;
  code?: string;
  body: unknown;
  text: string;
}

async function call(
  server: Server,
  method: string,
  urlPath: string,
  options: { body?: string; auth?: string | null; contentType?: string } = {},
): Promise<Probe & { headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.auth) headers.authorization = options.auth;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${server.url}${urlPath}`, {
    method,
    headers,
    body: options.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON; kept as text.
  }
  const code = (body as { error?: { code?: string } })?.error?.code;
  return { name: '', status: response.status, code, body, text, headers: response.headers };
}

// ---------------------------------------------------------------------------
// Parity: the gateway and the baseline answer the benchmark's request and its bad variants alike

interface ParityCase {
  name: string;
  body?: string;
  auth?: 'none' | 'unknown';
  contentType?: string;
  expect: { status: number; code?: string };
}

const PARITY_CASES: ParityCase[] = [
  { name: 'the benchmark request', body: REST_BODY('contact_abc123'), expect: { status: 201 } },
  {
    name: 'JPY, lower-case code, whole amounts',
    body: REST_BODY('contact_abc123')
      .replace('"price":99.00', '"price":99')
      .replace('"price":29.00', '"price":29')
      .replace('"total":227.00', '"total":227')
      .replace('"USD"', '"jpy"'),
    expect: { status: 201 },
  },
  {
    name: 'KWD with 3 decimals',
    body: REST_BODY('contact_abc123')
      .replace('"price":99.00', '"price":99.005')
      .replace('"total":227.00', '"total":"227.010"')
      .replace('"USD"', '"KWD"'),
    expect: { status: 201 },
  },
  {
    name: 'price with 3 decimals in USD',
    body: REST_BODY('c').replace('"price":99.00', '"price":99.001'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'price 1.5 in JPY',
    body: REST_BODY('c')
      .replace('"price":99.00', '"price":99.5')
      .replace('"total":227.00', '"total":228')
      .replace('"USD"', '"JPY"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'price past double precision',
    body: REST_BODY('c').replace('"price":99.00', '"price":98.9999999999999999'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'negative price string',
    body: REST_BODY('c').replace('"price":99.00', '"price":"-1"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'total off by a cent',
    body: REST_BODY('c').replace('"total":227.00', '"total":226.99'),
    expect: { status: 422, code: 'TOTAL_MISMATCH' },
  },
  {
    name: 'unknown top-level field',
    body: REST_BODY('c', ',"coupon":"X"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown item field',
    body: REST_BODY('c').replace('"sku":"WGT-PRE"', '"sku":"WGT-PRE","color":"red"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown address field',
    body: REST_BODY('c').replace('"city":"Jakarta"', '"city":"Jakarta","zip":"1"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  { name: 'empty customer_id', body: REST_BODY(''), expect: { status: 422, code: 'VALIDATION_ERROR' } },
  {
    name: 'missing customer_id',
    body: REST_BODY('c').replace('"customer_id":"c",', ''),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'quantity 0',
    body: REST_BODY('c').replace('"quantity":2', '"quantity":0'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'quantity 1.5',
    body: REST_BODY('c').replace('"quantity":2', '"quantity":1.5'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'quantity as a string',
    body: REST_BODY('c').replace('"quantity":2', '"quantity":"2"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'no items',
    body: '{"customer_id":"c","items":[],"total":0}',
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown currency',
    body: REST_BODY('c').replace('"USD"', '"ABC"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown country',
    body: REST_BODY('c').replace('"country":"ID"', '"country":"XX"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'NUL in notes',
    body: REST_BODY('c').replace('gift wrap', 'gift\\u0000wrap'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'notes over 5000 characters',
    body: REST_BODY('c').replace('Please gift wrap this order', 'x'.repeat(5001)),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  { name: 'body not JSON', body: '{"customer_id":', expect: { status: 400, code: 'INVALID_JSON' } },
  { name: 'body not an object', body: '[1]', expect: { status: 422, code: 'VALIDATION_ERROR' } },
  {
    name: 'not application/json',
    body: REST_BODY('c'),
    contentType: 'text/plain',
    expect: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  },
  { name: 'no key', body: REST_BODY('c'), auth: 'none', expect: { status: 401, code: 'UNAUTHORIZED' } },
  {
    name: 'unknown key',
    body: REST_BODY('c'),
    auth: 'unknown',
    expect: { status: 401, code: 'UNAUTHORIZED' },
  },
  {
    name: 'unknown key and a bad body',
    body: REST_BODY('c', ',"coupon":"X"'),
    auth: 'unknown',
    expect: { status: 401, code: 'UNAUTHORIZED' },
  },
];

/** Drops what differs between any two creates of the same request. */
function comparable(data: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
  for (const key of ['id', 'order_number', 'created_at', 'updated_at']) delete copy[key];
  for (const change of (copy.status_history as Record<string, unknown>[] | undefined) ?? [])
    delete change.timestamp;
  return copy;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

interface ParityResult {
  case: string;
  expected: string;
  got: Record<string, string>;
  ok: boolean;
}

async function checkParity(
  targets: Target[],
  auth: string,
): Promise<{ cases: ParityResult[]; notes: string[]; ok: boolean }> {
  const unknownKey = `Bearer ogk_${randomBytes(32).toString('base64url')}`;
  const cases: ParityResult[] = [];
  const notes: string[] = [];
  const created: Record<string, Record<string, unknown>> = {};
  for (const test of PARITY_CASES) {
    const got: Record<string, string> = {};
    let ok = true;
    const bodies: Record<string, unknown> = {};
    for (const target of targets) {
      const response = await call(target.server, 'POST', '/api/orders', {
        body: test.body,
        contentType: test.contentType,
        auth: test.auth === 'none' ? null : test.auth === 'unknown' ? unknownKey : auth,
      });
      if (response.status >= 200 && response.status < 300) recordCreated(response.text);
      got[target.name] = `${response.status}${response.code ? ` ${response.code}` : ''}`;
      if (
        response.status !== test.expect.status ||
        (test.expect.code !== undefined && response.code !== test.expect.code)
      )
        ok = false;
      if (!response.headers.get('x-request-id')) {
        ok = false;
        notes.push(`${target.name}: no X-Request-Id on "${test.name}"`);
      }
      bodies[target.name] = (response.body as { data?: unknown }).data;
      if (test.expect.status === 201 && test.name === 'the benchmark request')
        created[target.name] = bodies[target.name] as Record<string, unknown>;
    }
    if (
      ok &&
      test.expect.status === 201 &&
      targets.length > 1 &&
      !sameJson(comparable(bodies.gateway), comparable(bodies.baseline))
    ) {
      ok = false;
      notes.push(
        `"${test.name}": the gateway and the baseline return different orders:\n  gateway  ${JSON.stringify(comparable(bodies.gateway))}\n  baseline ${JSON.stringify(comparable(bodies.baseline))}`,
      );
    }
    const expected = `${test.expect.status}${test.expect.code ? ` ${test.expect.code}` : ''}`;
    cases.push({ case: test.name, expected, got, ok });
  }

  // Each reads the other's order back exactly as it was created: same rows, same representation.
  for (const writer of targets) {
    const order = created[writer.name];
    if (!order) continue;
    for (const reader of targets) {
      const response = await call(reader.server, 'GET', `/api/orders/${String(order.id)}`, { auth });
      const ok = response.status === 200 && sameJson((response.body as { data?: unknown }).data, order);
      cases.push({
        case: `GET of the ${writer.name}'s order`,
        expected: '200, same order',
        got: { [reader.name]: `${response.status}${ok ? ', same order' : ', different'}` },
        ok,
      });
      if (!ok)
        notes.push(
          `${reader.name} GET of ${writer.name}'s order differs:\n  created ${JSON.stringify(order)}\n  read    ${JSON.stringify(response.body)}`,
        );
    }
  }

  // GraphQL: the benchmark mutation creates an order; a bad price is a userError, not an order.
  const gateway = targets.find((target) => target.name === 'gateway') as Target;
  for (const [name, price, expectOrder] of [
    ['GraphQL createOrder', '99.00', true],
    ['GraphQL createOrder, price with 3 decimals', '99.001', false],
  ] as const) {
    const response = await call(gateway.server, 'POST', '/graphql', { body: GRAPHQL_BODY(price), auth });
    const payload = (
      response.body as {
        data?: { createOrder?: { order: { orderNumber?: string } | null; userErrors: { code: string }[] } };
      }
    )?.data?.createOrder;
    const hasOrder = Boolean(payload?.order?.orderNumber);
    if (hasOrder) recordCreated(response.text);
    const summary = `${response.status} ${hasOrder ? 'order' : `userErrors ${payload?.userErrors.map((error) => error.code).join(',') ?? JSON.stringify(response.body).slice(0, 200)}`}`;
    const ok =
      response.status === 200 &&
      hasOrder === expectOrder &&
      (expectOrder || payload?.userErrors[0]?.code === 'VALIDATION_ERROR');
    cases.push({
      case: name,
      expected: expectOrder ? '200 order' : '200 userErrors VALIDATION_ERROR',
      got: { gateway: summary },
      ok,
    });
  }
  return { cases, notes, ok: cases.every((entry) => entry.ok) };
}

// ---------------------------------------------------------------------------
// Load

interface RoundResult {
  round: number;
  target: string;
  seconds: number;
  ok: number;
  perSecond: number;
  responses: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  peakRssMb?: number;
  heap?: HeapReading | null;
  /** Average database sessions by state during the round (real PostgreSQL). */
  dbSessions?: Record<string, number>;
}

interface PathSpec {
  key: PathKey;
  label: string;
  create: boolean;
  /** The request for this target; the baseline's counterpart of GraphQL create is its REST create. */
  requests(target: Target, auth: string): autocannon.Request[];
  counts(target: Target): (status: number, body: string) => boolean;
}

let getCursor = 0;
const PATHS: Record<PathKey, PathSpec> = {
  'rest-create': {
    key: 'rest-create',
    label: 'REST create',
    create: true,
    requests: (_target, auth) => [
      {
        method: 'POST',
        path: '/api/orders',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: REST_BODY('contact_abc123'),
      },
    ],
    counts: () => (status, body) => status === 201 && body.startsWith('{"success":true'),
  },
  'graphql-create': {
    key: 'graphql-create',
    label: 'GraphQL create',
    create: true,
    requests: (target, auth) =>
      target.name === 'gateway'
        ? [
            {
              method: 'POST',
              path: '/graphql',
              headers: { authorization: auth, 'content-type': 'application/json' },
              body: GRAPHQL_BODY(),
            },
          ]
        : PATHS['rest-create'].requests(target, auth),
    counts: (target) =>
      target.name === 'gateway'
        ? (status, body) =>
            status === 200 && body.includes('"orderNumber":"ORD-') && body.includes('"userErrors":[]')
        : PATHS['rest-create'].counts(target),
  },
  get: {
    key: 'get',
    label: 'GET by id',
    create: false,
    requests: (_target, auth) => [
      {
        method: 'GET',
        headers: { authorization: auth },
        setupRequest: (request) => {
          request.path = `/api/orders/${orderIds[getCursor++ % orderIds.length]}`;
          return request;
        },
      },
    ],
    counts: () => (status) => status === 200,
  },
  list: {
    key: 'list',
    label: 'list',
    create: false,
    requests: (_target, auth) => [{ method: 'GET', path: '/api/orders', headers: { authorization: auth } }],
    counts: () => (status) => status === 200,
  },
};

async function runLoad(
  spec: PathSpec,
  target: Target,
  auth: string,
  seconds: number,
  round: number,
): Promise<RoundResult> {
  const counts = spec.counts(target);
  let ok = 0;
  let responses = 0;
  const requests = spec.requests(target, auth).map((request) => ({
    ...request,
    onResponse: (status: number, body: string) => {
      responses++;
      if (counts(status, body)) {
        ok++;
        if (spec.create) recordCreated(body);
      }
    },
  }));
  const instance = autocannon({
    url: target.server.url,
    connections: settings.connections,
    duration: seconds,
    timeout: 10,
    requests,
  });
  currentLoad = instance;
  let result: autocannon.Result;
  try {
    result = await withTimeout(
      Promise.resolve(instance),
      (seconds + 60) * 1000,
      `${spec.label} on ${target.name}`,
    );
  } catch (error) {
    instance.stop();
    throw error;
  } finally {
    currentLoad = undefined;
  }
  if (aborting) throw new Error(aborting);
  if (spec.create) {
    // Requests still in flight when autocannon stops are abandoned by the client but may still commit.
    accounting.abortedInFlight += Math.max(
      0,
      Math.min(result.requests.sent - responses, settings.connections),
    );
  }
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  return {
    round,
    target: target.name,
    seconds: result.duration,
    ok,
    perSecond: Math.round(ok / result.duration),
    responses,
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: round2(result.latency.mean),
    max: result.latency.max,
  };
}

interface Summary {
  perSecond: number;
  p50: number;
  p99: number;
  rounds: number;
  ok: number;
  bad: number;
  statusCodes: Record<string, number>;
  dbSessions?: Record<string, number>;
}

function averageSessions(rounds: RoundResult[]): Record<string, number> | undefined {
  const sampled = rounds.filter((entry) => entry.dbSessions);
  if (sampled.length === 0) return undefined;
  const sums: Record<string, number> = {};
  for (const entry of sampled)
    for (const [kind, n] of Object.entries(entry.dbSessions ?? {})) sums[kind] = (sums[kind] ?? 0) + n;
  return Object.fromEntries(
    Object.entries(sums)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, sum]) => [kind, round2(sum / sampled.length)]),
  );
}

function summarise(rounds: RoundResult[]): Summary {
  return {
    dbSessions: averageSessions(rounds),
    statusCodes: rounds.reduce<Record<string, number>>((codes, entry) => {
      for (const [code, count] of Object.entries(entry.statusCodes)) codes[code] = (codes[code] ?? 0) + count;
      if (entry.errors > 0) codes.errors = (codes.errors ?? 0) + entry.errors;
      if (entry.timeouts > 0) codes.timeouts = (codes.timeouts ?? 0) + entry.timeouts;
      return codes;
    }, {}),
    perSecond: Math.round(median(rounds.map((entry) => entry.perSecond))),
    p50: median(rounds.map((entry) => entry.p50)),
    p99: median(rounds.map((entry) => entry.p99)),
    rounds: rounds.length,
    ok: rounds.reduce((sum, entry) => sum + entry.ok, 0),
    bad: rounds.reduce((sum, entry) => sum + entry.responses - entry.ok + entry.errors + entry.timeouts, 0),
  };
}

interface PathReport {
  key: PathKey;
  label: string;
  available: boolean;
  note?: string;
  gateway?: Summary;
  baseline?: Summary;
  ratio?: number | null;
  p99Ratio?: number | null;
  target?: { ratio: number; stretch?: number };
  rounds: RoundResult[];
}

const TARGETS: Partial<Record<PathKey, { ratio: number; stretch?: number }>> = {
  'rest-create': { ratio: 0.75 },
  'graphql-create': { ratio: 0.6, stretch: 0.8 },
};

// ---------------------------------------------------------------------------
// Correctness in the database, after the servers have stopped

interface Sql {
  rows<T extends QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

async function openSql(target: { url: string } | { dataDir: string }): Promise<Sql & { version: string }> {
  if ('url' in target) {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    const version = (await client.query<{ version: string }>('select version()')).rows[0]?.version ?? '';
    return {
      version,
      rows: async <T extends QueryResultRow>(text: string, values?: unknown[]) => (await client.query<T>(text, values)).rows,
      close: () => client.end(),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite(path.join(target.dataDir, 'pgdata'));
  await db.waitReady;
  const version = (await db.query<{ version: string }>('select version()')).rows[0]?.version ?? '';
  return {
    version,
    rows: async <T extends QueryResultRow>(text: string, values?: unknown[]) => (await db.query<T>(text, values)).rows,
    close: () => db.close(),
  };
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function checkDatabase(
  sql: Sql,
  workspace: string,
): Promise<{ checks: Check[]; ok: boolean; orders: number; items: number }> {
  const one = async <T extends QueryResultRow>(text: string): Promise<T> => (await sql.rows<T>(text, [workspace]))[0];
  const ws = `(select id from workspaces where slug = $1)`;
  const { orders } = await one<{ orders: number }>(
    `select count(*)::int as orders from orders where workspace_id = ${ws}`,
  );
  const { items } = await one<{ items: number }>(
    `select count(*)::int as items from order_items i join orders o on o.id = i.order_id where o.workspace_id = ${ws}`,
  );
  const { wrong_items } = await one<{ wrong_items: number }>(
    `select count(*)::int as wrong_items from (select o.id from orders o left join order_items i on i.order_id = o.id
       where o.workspace_id = ${ws} group by o.id having count(i.order_id) <> ${ITEMS_PER_ORDER}) x`,
  );
  const { duplicates } = await one<{ duplicates: number }>(
    `select count(*)::int as duplicates from (select order_number from orders where workspace_id = ${ws}
       group by order_number having count(*) > 1) x`,
  );
  const days = await sql.rows<{ day: string; count: number; max_seq: number; counter: number | null }>(
    `select d.day, d.count, d.max_seq, c.last_value as counter from (
       select substr(order_number, 5, 9) as day, count(*)::int as count,
              max(substr(order_number, 15)::int) as max_seq
       from orders where workspace_id = ${ws} group by 1) d
     left join order_number_counters c
       on c.workspace_id = ${ws} and to_char(c.day, 'YYYY-MMDD') = d.day
     order by d.day`,
    [workspace],
  );
  const { bad_money } = await one<{ bad_money: number }>(
    `select count(*)::int as bad_money from orders o where o.workspace_id = ${ws} and (
       o.total <> o.subtotal + o.shipping + o.tax
       or o.subtotal <> (select coalesce(sum(i.subtotal), 0) from order_items i where i.order_id = o.id)
       or exists (select 1 from order_items i where i.order_id = o.id and i.subtotal <> i.price * i.quantity))`,
  );
  const { bad_format } = await one<{ bad_format: number }>(
    `select count(*)::int as bad_format from orders where workspace_id = ${ws} and order_number !~ '^ORD-[0-9]{4}-[0-9]{4}-[0-9]{3,}$'`,
  );

  // Every order the bench was told about exists: looked up by id, in chunks.
  const ids = [...new Set(accounting.createdIds)];
  const repeatedIds = accounting.createdIds.length - ids.length;
  let found = 0;
  for (let start = 0; start < ids.length; start += 5000) {
    const chunk = ids.slice(start, start + 5000);
    const row = (
      await sql.rows<{ found: number }>(
        `select count(*)::int as found from orders where workspace_id = ${ws} and id = any($2::text[])`,
        [workspace, chunk],
      )
    )[0];
    found += row?.found ?? 0;
  }
  const allIdsKept = accounting.createdIds.length + accounting.withoutId === accounting.created;
  const unanswered = orders - accounting.created;
  const gaps = days.filter((day) => day.count !== day.max_seq || day.counter !== day.count);
  const checks: Check[] = [
    {
      name: 'every 2xx create is an order',
      ok:
        accounting.withoutId === 0 &&
        repeatedIds === 0 &&
        found === ids.length &&
        (allIdsKept || orders >= accounting.created),
      detail:
        `${accounting.created} creates answered 2xx with ${ids.length} distinct order ids; ${found} of those ids are in the database` +
        (repeatedIds > 0 ? `; ${repeatedIds} ids answered twice` : '') +
        (accounting.withoutId > 0 ? `; ${accounting.withoutId} answers without an id` : '') +
        (allIdsKept ? '' : `; ids past the first ${MAX_CREATED_IDS} checked by count only`),
    },
    {
      name: 'no order the bench was not told about, beyond abandoned requests',
      ok: unanswered >= 0 && unanswered <= accounting.abortedInFlight,
      detail: `${orders} orders in the database, ${unanswered} more than answered; ${accounting.abortedInFlight} requests were abandoned in flight when rounds ended (they may still commit)`,
    },
    {
      name: `every order has its ${ITEMS_PER_ORDER} items`,
      ok: items === ITEMS_PER_ORDER * orders && wrong_items === 0,
      detail: `${items} items for ${orders} orders; ${wrong_items} orders with another count`,
    },
    {
      name: 'order numbers unique in the workspace',
      ok: duplicates === 0,
      detail: `${duplicates} duplicated numbers`,
    },
    { name: 'order numbers well-formed', ok: bad_format === 0, detail: `${bad_format} malformed` },
    {
      name: 'numbers gap-free per day, counter agrees',
      ok: gaps.length === 0,
      detail:
        days
          .map(
            (day) =>
              `${day.day}: ${day.count} orders, highest ${day.max_seq}, counter ${day.counter ?? 'missing'}`,
          )
          .join('; ') || 'no orders',
    },
    {
      name: 'money adds up (items, subtotal, total)',
      ok: bad_money === 0,
      detail: `${bad_money} orders that do not add up`,
    },
  ];
  return { checks, ok: checks.every((check) => check.ok), orders, items };
}

// ---------------------------------------------------------------------------
// Output

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function renderTable(rows: string[][], rightAligned: boolean[]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    row.map((cell, column) => pad(cell, widths[column], rightAligned[column])).join(' | ');
  const rule = widths.map((width) => '-'.repeat(width)).join('-|-');
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

const fmt = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : value.toFixed(digits);

// ---------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const started = Date.now();
  const notes: string[] = [];
  const perTarget = realPostgres ? 2 : 1;
  const estimate =
    settings.paths.length * perTarget * (settings.rounds * settings.seconds + settings.warmupSeconds + 2) +
    120;
  // Every step is bounded on its own; this bounds the whole run as well.
  const watchdog = setTimeout(
    () => abort(`the run took longer than ${estimate * 3} s`, 1),
    estimate * 3 * 1000,
  );
  watchdog.unref();

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'order-gateway-bench-'));
  let keepTmp = false;
  onCleanup('remove temp folder', async () => {
    if (keepTmp) log(`bench: logs kept in ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  });

  const { cli, built } = await prepareGatewayCommand(notes);
  let commit = 'unknown';
  let dirtySrc = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, timeout: 5000 })
      .toString()
      .trim();
    dirtySrc =
      execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT, timeout: 5000 })
        .toString()
        .trim() !== '';
  } catch {
    // Not a git checkout.
  }

  // The throwaway database.
  let dbEnv: Record<string, string>;
  let sqlTarget: { url: string } | { dataDir: string };
  if (realPostgres) {
    const name = `bench_${randomBytes(6).toString('hex')}`;
    const admin = async (statement: string) => {
      const client = new Client({ connectionString: settings.databaseUrl, connectionTimeoutMillis: 10_000 });
      await client.connect();
      try {
        await client.query(statement);
      } finally {
        await client.end();
      }
    };
    await admin(`create database ${name}`);
    onCleanup(`drop database ${name}`, () => admin(`drop database if exists ${name} with (force)`));
    const url = new URL(settings.databaseUrl as string);
    url.pathname = `/${name}`;
    dbEnv = { DATABASE_URL: url.toString() };
    sqlTarget = { url: url.toString() };
    log(`bench: database ${name} on ${url.host}`);
  } else {
    const dataDir = path.join(tmp, 'data');
    fs.mkdirSync(dataDir);
    dbEnv = { DATA_DIR: dataDir };
    sqlTarget = { dataDir };
    log(`bench: embedded database in ${dataDir}`);
  }

  const cliEnv = childEnv({ ...dbEnv, NODE_ENV: 'production', LOG_LEVEL: 'warn' });
  await runCommand(process.execPath, [...cli, 'migrate'], cliEnv, 180_000);
  const createKey = () =>
    runCommand(
      process.execPath,
      [...cli, 'apikey', 'create', '--workspace', 'bench', '--json'],
      cliEnv,
      180_000,
    );
  let keyOutput: string;
  try {
    keyOutput = await createKey();
  } catch (error) {
    // The CLI creates a missing workspace itself; should that part be broken, make the
    // workspace row directly and let the CLI create only the key.
    const reason =
      describe(error)
        .split('\n')
        .find((line) => line.startsWith('order-gateway:')) ?? describe(error).split('\n')[0];
    notes.push(
      `apikey create could not create the workspace (${reason}); the bench inserted the workspace row itself and reran it`,
    );
    log(`bench: ${notes[notes.length - 1]}`);
    const sql = await openSql(sqlTarget);
    try {
      await sql.rows(
        `insert into workspaces (id, slug, time_zone, created_at) values ($1, 'bench', 'UTC', now()) on conflict do nothing`,
        [`ws_${ulid()}`],
      );
    } finally {
      await sql.close();
    }
    keyOutput = await createKey();
  }
  const keyLine = keyOutput
    .trim()
    .split('\n')
    .reverse()
    .find((line) => line.startsWith('{'));
  const created = JSON.parse(keyLine ?? 'null') as { id: string; key: string; workspace: string } | null;
  if (!created?.key) throw new Error('apikey create --json printed no key');
  const auth = `Bearer ${created.key}`;

  // The servers. The gateway runs as in production, except that its per-key rate
  // limit (contract §7, default 300 a minute) is raised out of the way: the limiter
  // still runs on every request, it just never refuses one.
  const gatewayOverrides: Record<string, string | undefined> = {
    NODE_ENV: 'production',
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: settings.gatewayLogLevel,
    RATE_LIMIT_PER_MINUTE: process.env.RATE_LIMIT_PER_MINUTE?.trim() || '1000000',
  };
  const logDir = path.join(tmp, 'logs');
  fs.mkdirSync(logDir);
  const gatewayPort = await freePort();
  const gatewayServer = startServer(
    'gateway',
    [
      '--expose-gc',
      ...(settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : []),
      '-r',
      path.join(__dirname, 'heap-probe.js'),
      ...cli,
      'serve',
    ],
    childEnv({ ...dbEnv, ...gatewayOverrides, HOST, PORT: String(gatewayPort) }),
    gatewayPort,
    logDir,
    true,
  );
  const targets: Target[] = [{ name: 'gateway', server: gatewayServer }];
  let baselineServer: Server | undefined;
  try {
    await waitReady(gatewayServer, '/readyz', (status) => status === 200);
    if (realPostgres) {
      const baselinePort = await freePort();
      baselineServer = startServer(
        'baseline',
        [compileBaseline()],
        childEnv({
          ...dbEnv,
          HOST,
          PORT: String(baselinePort),
          POOL_MAX: String(settings.poolMax),
          BASELINE_MODE: settings.baselineMode,
        }),
        baselinePort,
        logDir,
        false,
      );
      await waitReady(baselineServer, '/api/orders/probe', (status) => status === 401);
      targets.push({ name: 'baseline', server: baselineServer });
    }
  } catch (error) {
    keepTmp = true;
    throw error;
  }
  let pgSampler: PgSampler | undefined;
  if (realPostgres) {
    const client = new Client({ connectionString: (sqlTarget as { url: string }).url });
    await client.connect();
    onCleanup('close the sampling connection', () => client.end());
    pgSampler = new PgSampler(client);
  }
  const gatewayRss = new RssSampler(gatewayServer.child.pid as number);
  gatewayRss.start();
  const baselineRss = baselineServer ? new RssSampler(baselineServer.child.pid as number) : undefined;
  baselineRss?.start();
  log(
    `bench: gateway on ${gatewayServer.url} (${settings.runner})${baselineServer ? `, baseline on ${baselineServer.url} (${settings.baselineMode})` : ''}`,
  );

  const parity = await checkParity(targets, auth);
  for (const entry of parity.cases.filter((c) => !c.ok))
    log(`bench: parity: "${entry.case}" expected ${entry.expected}, got ${JSON.stringify(entry.got)}`);
  for (const note of parity.notes) log(`bench: parity: ${note}`);

  // The paths, each with the targets in turns.
  const reports: PathReport[] = [];
  const heapSeries: { path: PathKey; round: number; heap: HeapReading | null }[] = [];
  const startHeap = await probeHeap(gatewayServer);
  for (const key of settings.paths) {
    const spec = PATHS[key];
    const report: PathReport = { key, label: spec.label, available: true, rounds: [], target: TARGETS[key] };
    reports.push(report);
    if (key === 'get' && orderIds.length === 0) {
      // No create ran in this run: make a few orders to read.
      for (let i = 0; i < 20; i++) {
        const response = await call(gatewayServer, 'POST', '/api/orders', {
          body: REST_BODY('contact_abc123'),
          auth,
        });
        if (response.status === 201) recordCreated(response.text);
      }
    }
    const probeResponse =
      key === 'list'
        ? await call(gatewayServer, 'GET', '/api/orders', { auth })
        : key === 'get'
          ? await call(gatewayServer, 'GET', `/api/orders/${orderIds[0] ?? 'none'}`, { auth })
          : undefined;
    if (probeResponse && probeResponse.status !== 200) {
      report.available = false;
      report.note =
        probeResponse.status === 404
          ? 'not available (404)'
          : `not available (${probeResponse.status} ${probeResponse.code ?? ''})`.trim();
      log(`bench: ${spec.label}: ${report.note}`);
      continue;
    }
    if (settings.warmupSeconds > 0) {
      for (const target of targets) await runLoad(spec, target, auth, settings.warmupSeconds, 0);
    }
    for (let round = 1; round <= settings.rounds; round++) {
      for (const target of targets) {
        const sampler = target.name === 'gateway' ? gatewayRss : baselineRss;
        sampler?.window();
        pgSampler?.start();
        const result = await runLoad(spec, target, auth, settings.seconds, round);
        result.dbSessions = pgSampler?.stop();
        result.peakRssMb = sampler && sampler.available ? round1(sampler.window() / 1024) : undefined;
        if (target.name === 'gateway') {
          result.heap = await probeHeap(gatewayServer);
          heapSeries.push({ path: key, round, heap: result.heap });
        }
        trimLog(target.server);
        report.rounds.push(result);
        log(
          `bench: ${spec.label.padEnd(14)} round ${round}/${settings.rounds} ${target.name.padEnd(8)} ` +
            `${String(result.perSecond).padStart(6)}/s  p50 ${result.p50} ms  p99 ${result.p99} ms` +
            (result.responses - result.ok > 0
              ? `  (${result.responses - result.ok} not ok: ${JSON.stringify(result.statusCodes)})`
              : ''),
        );
      }
    }
    const ofTarget = (name: string) => report.rounds.filter((entry) => entry.target === name);
    report.gateway = summarise(ofTarget('gateway'));
    if (baselineServer) {
      report.baseline = summarise(ofTarget('baseline'));
      report.ratio =
        report.baseline.perSecond > 0 ? round2(report.gateway.perSecond / report.baseline.perSecond) : null;
      report.p99Ratio = report.baseline.p99 > 0 ? round2(report.gateway.p99 / report.baseline.p99) : null;
    } else {
      report.ratio = null;
      report.p99Ratio = null;
    }
  }

  gatewayRss.stop();
  baselineRss?.stop();
  const gatewayShutdown = await stopServer(gatewayServer);
  const baselineShutdown = baselineServer ? await stopServer(baselineServer) : undefined;
  if (!gatewayShutdown.startsWith('exited 0')) notes.push(`gateway shutdown: ${gatewayShutdown}`);
  if (baselineShutdown && !baselineShutdown.startsWith('exited 0'))
    notes.push(`baseline shutdown: ${baselineShutdown}`);

  const sql = await openSql(sqlTarget);
  let correctness;
  try {
    correctness = await checkDatabase(sql, 'bench');
  } finally {
    await sql.close();
  }

  // Results.
  const heaps = heapSeries
    .map((entry) => entry.heap?.heapUsedMb)
    .filter((value): value is number => typeof value === 'number');
  const heapGrowth =
    heaps.length >= 2 ? round1((heaps[heaps.length - 1]) - (heaps[0])) : null;
  const peakRssMb = gatewayRss.available ? round1(gatewayRss.peakKb / 1024) : null;
  const cpus = os.cpus();
  const results = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus.length,
      cpu: cpus[0]?.model ?? 'unknown',
      memoryGb: round1(os.totalmem() / 1024 ** 3),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    git: { commit, srcHasUncommittedChanges: dirtySrc },
    database: { kind: realPostgres ? 'postgres' : 'embedded', version: sql.version },
    settings: {
      rounds: settings.rounds,
      seconds: settings.seconds,
      warmupSeconds: settings.warmupSeconds,
      connections: settings.connections,
      itemsPerOrder: ITEMS_PER_ORDER,
      runner: settings.runner,
      builtBeforeRun: built,
      baselineMode: realPostgres ? settings.baselineMode : null,
      poolMax: settings.poolMax,
      gatewayLogLevel: settings.gatewayLogLevel ?? 'gateway default',
      gatewayEnvironment: Object.fromEntries(
        Object.entries(gatewayOverrides).filter(([, value]) => value !== undefined),
      ),
      command: realPostgres ? 'DATABASE_URL=… npm run bench' : 'npm run bench',
    },
    paths: reports,
    memory: {
      gatewayPeakRssMb: peakRssMb,
      rssLimitMb: 200,
      baselinePeakRssMb: baselineRss?.available ? round1(baselineRss.peakKb / 1024) : null,
      gatewayHeapBeforeMb: startHeap?.heapUsedMb ?? null,
      gatewayHeapAfterGcPerRoundMb: heapSeries.map((entry) => ({
        path: entry.path,
        round: entry.round,
        heapUsedMb: entry.heap?.heapUsedMb ?? null,
      })),
      heapGrowthFirstToLastRoundMb: heapGrowth,
    },
    parity,
    correctness: {
      ...correctness,
      createdAnswered2xx: accounting.created,
      abandonedInFlight: accounting.abortedInFlight,
    },
    shutdown: { gateway: gatewayShutdown, baseline: baselineShutdown ?? null },
    notes,
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  // The table.
  const rows: string[][] = [
    ['path', 'gateway/s', 'p50 ms', 'p99 ms', 'baseline/s', 'p50 ms', 'p99 ms', 'ratio', 'p99 ×', 'target'],
  ];
  for (const report of reports) {
    if (!report.available || !report.gateway) {
      rows.push([report.label, report.note ?? 'not available', '', '', '', '', '', '', '', '']);
      continue;
    }
    let target = '';
    if (report.target && typeof report.ratio === 'number') {
      const met = report.ratio >= report.target.ratio;
      target = `≥${report.target.ratio.toFixed(2)} ${met ? 'met' : 'MISSED'}`;
      if (report.target.stretch) target += ` (stretch ${report.target.stretch.toFixed(2)})`;
    } else if (report.target) {
      target = 'n/a (no baseline)';
    }
    if (report.target && typeof report.p99Ratio === 'number')
      target += `; p99 ≤2× ${report.p99Ratio <= 2 ? 'met' : 'MISSED'}`;
    rows.push([
      report.label,
      fmt(report.gateway.perSecond),
      fmt(report.gateway.p50),
      fmt(report.gateway.p99),
      report.baseline ? fmt(report.baseline.perSecond) : 'n/a',
      report.baseline ? fmt(report.baseline.p50) : 'n/a',
      report.baseline ? fmt(report.baseline.p99) : 'n/a',
      typeof report.ratio === 'number' ? report.ratio.toFixed(2) : 'n/a',
      typeof report.p99Ratio === 'number' ? report.p99Ratio.toFixed(2) : 'n/a',
      target,
    ]);
  }
  const header =
    `order-gateway bench: ${realPostgres ? `PostgreSQL (${sql.version.split(' ').slice(0, 2).join(' ')})` : 'embedded PGlite'}, ` +
    `${cpus.length} cores, node ${process.version}, gateway from ${settings.runner === 'dist' ? 'dist/' : 'src/ via SWC'}` +
    `${realPostgres ? `, baseline ${settings.baselineMode}` : ', no baseline (embedded)'}\n` +
    `${settings.connections} connections, ${ITEMS_PER_ORDER} items per order, ${settings.rounds} rounds × ${settings.seconds} s per target` +
    `${baselineServer ? ' (A B A B …)' : ''}; figures are medians of the rounds; creates/s count only responses that are a created order` +
    `${baselineServer ? "; the baseline's counterpart of GraphQL create is its REST create" : ''}`;
  const lines = [
    '',
    header,
    '',
    renderTable(rows, [false, true, true, true, true, true, true, true, true, false]),
    '',
    `gateway peak RSS ${fmt(peakRssMb, 1)} MB ` +
      (realPostgres
        ? `(target < 200 MB: ${peakRssMb !== null && peakRssMb < 200 ? 'met' : 'MISSED'})`
        : '(includes the embedded PostgreSQL running inside the process; the 200 MB target is for real PostgreSQL)') +
      `${results.memory.baselinePeakRssMb !== null ? `; baseline ${fmt(results.memory.baselinePeakRssMb, 1)} MB` : ''}`,
    `gateway heap after GC, per round: ${heaps.map((value) => value.toFixed(1)).join(' ') || 'n/a'} MB` +
      (heapGrowth !== null ? ` (first→last ${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MB)` : ''),
    `parity with ${targets.map((target) => target.name).join(' and ')}: ${parity.cases.filter((c) => c.ok).length}/${parity.cases.length} cases as expected${parity.ok ? '' : ' — SEE ABOVE'}`,
    ...reports.flatMap((report) =>
      (['gateway', 'baseline'] as const)
        .filter((name) => (report[name]?.bad ?? 0) > 0)
        .map(
          (name) =>
            `WARNING: ${report.label} on the ${name}: ${report[name]?.bad} responses were not a success; status codes ${JSON.stringify(report[name]?.statusCodes)}`,
        ),
    ),
    ...reports
      .filter((report) => report.gateway?.dbSessions)
      .map(
        (report) =>
          `db sessions during ${report.label} (average): ` +
          [report.gateway, report.baseline]
            .map((summary, index) =>
              summary?.dbSessions
                ? `${index === 0 ? 'gateway' : 'baseline'}: ${Object.entries(summary.dbSessions)
                    .filter(([, n]) => n >= 0.05)
                    .map(([kind, n]) => `${kind} ${n.toFixed(1)}`)
                    .join(', ')}`
                : '',
            )
            .filter(Boolean)
            .join(' | '),
      ),
    'correctness:',
    ...correctness.checks.map((check) => `  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`),
    ...notes.map((note) => `note: ${note}`),
    '',
    `wrote ${path.relative(ROOT, RESULTS)} (${results.durationSeconds} s)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  clearTimeout(watchdog);
  return correctness.ok && parity.ok ? 0 : 1;
}

main()
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    if (aborting) return; // abort() is already cleaning up and will exit
    process.stderr.write(`bench: ${describe(error)}\n`);
    await cleanUp();
    process.exit(1);
  });
