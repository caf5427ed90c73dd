/**
 * `npm run bench:fairness`: can one workspace starve the others?
 *
 * One run: build the gateway when dist/ is stale; make a throwaway database (a
 * new database on the DATABASE_URL server, or an embedded DATA_DIR in a temp
 * folder); create two workspaces with the CLI, "heavy" and "victim"; start the
 * gateway (NODE_ENV=production) on a free port of 127.0.0.1; seed the heavy
 * workspace with orders of 500 items each and the victim with small orders.
 *
 * Then, in one process and against one gateway:
 * 1. the victim's `GET /api/orders/:id` alone (autocannon), then
 * 2. the same while the heavy workspace sends its heaviest allowed GraphQL
 *    query over and over: the shape of the original finding (GRAPHQL_MAX_ALIASES
 *    aliases of `orders(first: N)`, every field, items included) with the
 *    largest N the gateway accepts, found by asking it.
 * It prints the victim's median and p99 in both phases and their ratio, the
 * heavy requests' statuses and response size, the gateway's RSS at rest and
 * at its peak, and how often `/readyz` was not 200 during phase 2; it writes
 * bench/results/fairness.json.
 *
 * Settings (environment):
 *   DATABASE_URL                 real PostgreSQL server (a fresh database is created on it and dropped)
 *   FAIRNESS_SECONDS             seconds per phase (default 10)
 *   FAIRNESS_VICTIM_CONNECTIONS  victim connections (default 4)
 *   FAIRNESS_HEAVY_CONNECTIONS   heavy connections, i.e. heavy requests in parallel (default 2)
 *   FAIRNESS_ORDERS              heavy orders seeded, each with FAIRNESS_ITEMS items (default 100)
 *   FAIRNESS_ITEMS               items per heavy order (default 500, the most an order may have)
 *   BENCH_RUNNER                 dist (default: node dist/…, built when stale) or swc (node -r @swc-node/register src/…)
 *
 * The per-key rate limit is raised (RATE_LIMIT_PER_MINUTE=1000000) so that
 * what is measured is the cost, pool, size and load-shedding controls, not a
 * 429. Only 127.0.0.1 is ever targeted; every child is stopped on exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';

const ROOT = path.resolve(__dirname, '..');
const HOST = '127.0.0.1';
const RESULTS = path.join(__dirname, 'results', 'fairness.json');
const MB = 1024 * 1024;

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

const settings = {
  databaseUrl: process.env.DATABASE_URL?.trim() || undefined,
  seconds: intEnv('FAIRNESS_SECONDS', 10, 1, 600),
  victimConnections: intEnv('FAIRNESS_VICTIM_CONNECTIONS', 4, 1, 64),
  heavyConnections: intEnv('FAIRNESS_HEAVY_CONNECTIONS', 2, 1, 64),
  orders: intEnv('FAIRNESS_ORDERS', 100, 1, 1000),
  items: intEnv('FAIRNESS_ITEMS', 500, 1, 500),
  runner: process.env.BENCH_RUNNER?.trim() === 'swc' ? ('swc' as const) : ('dist' as const),
};

// ---------------------------------------------------------------------------
// Clean-up: children are always killed, the database dropped, temp folders removed.

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
const loads = new Set<autocannon.Instance>();

async function cleanUp(): Promise<void> {
  for (const load of loads) load.stop();
  while (cleanups.length > 0) {
    const step = cleanups.pop() as () => Promise<void>;
    await step().catch((error: unknown) => process.stderr.write(`fairness: clean-up failed: ${String(error)}\n`));
  }
}
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nfairness: ${signal}; cleaning up…\n`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stderr.write(`${line}\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'PORT', 'HOST', 'LOG_LEVEL', 'NODE_ENV', 'METRICS_TOKEN', 'METRICS_PORT']) delete env[name];
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function gatewayCli(): string[] {
  if (settings.runner === 'swc') return ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/cli.ts')];
  const entry = path.join(ROOT, 'dist/cli/cli.js');
  if (!fs.existsSync(entry) || newestMtime(path.join(ROOT, 'src')) > fs.statSync(entry).mtimeMs) {
    log('fairness: building dist/ …');
    run('npm', ['run', 'build', '--silent'], process.env);
  }
  return [entry];
}

// ---------------------------------------------------------------------------
// Measuring

/** The gateway's resident set size, sampled every 100 ms. */
class RssSampler {
  peakKb = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}
  readKb(): number {
    try {
      return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1] ?? NaN);
    } catch {
      return NaN;
    }
  }
  start(): void {
    this.peakKb = this.readKb();
    this.timer = setInterval(() => {
      const kb = this.readKb();
      if (Number.isFinite(kb)) this.peakKb = Math.max(this.peakKb, kb);
    }, 100);
  }
  stop(): number {
    clearInterval(this.timer);
    return Math.round(this.peakKb / 1024);
  }
}

interface LoadResult {
  requests: number;
  medianMs: number;
  p99Ms: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  bytesPerResponse: number;
}

async function load(options: autocannon.Options): Promise<LoadResult> {
  const instance = autocannon(options);
  loads.add(instance);
  try {
    const result = await instance;
    const statusCodes: Record<string, number> = {};
    for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
    const responses = Object.values(statusCodes).reduce((sum, count) => sum + count, 0);
    return {
      requests: responses,
      medianMs: result.latency.p50,
      p99Ms: result.latency.p99,
      statusCodes,
      errors: result.errors,
      timeouts: result.timeouts,
      bytesPerResponse: responses > 0 ? Math.round(result.throughput.total / responses) : 0,
    };
  } finally {
    loads.delete(instance);
  }
}

// ---------------------------------------------------------------------------
// Requests

const ORDER_FIELDS = `id orderNumber customerId status
  items { productId name quantity price sku subtotal }
  subtotal shipping tax total currency
  shippingAddress { name company address address2 city state postalCode country phone email }
  billingAddress { name company address address2 city state postalCode country phone email }
  notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt`;

/** The finding's shape: `aliases` × `orders(first: first)` with every field. */
function heavyQuery(aliases: number, first: number): string {
  const one = (i: number) => `a${i}: orders(first: ${first}) { totalCount edges { cursor node { ${ORDER_FIELDS} } } }`;
  return `query Heavy { ${Array.from({ length: aliases }, (_, i) => one(i)).join('\n')} }`;
}

function heavyOrder(index: number, items: number): string {
  const lines = Array.from({ length: items }, (_, i) => ({
    product_id: `prod_${String(i).padStart(4, '0')}`,
    name: `Item ${i} of a rather large wholesale order`,
    quantity: 1,
    price: '1.00',
    sku: `SKU-${i}`,
  }));
  return JSON.stringify({
    customer_id: `heavy_${index}`,
    items: lines,
    total: `${items}.00`,
    currency: 'USD',
    shipping_address: { name: 'Heavy Buyer', address: '1 Warehouse Rd', city: 'Jakarta', postal_code: '12345', country: 'ID' },
    notes: 'bulk',
  });
}

const SMALL_ORDER = JSON.stringify({
  customer_id: 'victim_1',
  items: [
    { product_id: 'prod_001', name: 'Premium Widget', quantity: 2, price: '99.00', sku: 'WGT-PRE' },
    { product_id: 'prod_002', name: 'Widget Accessory', quantity: 1, price: '29.00', sku: 'WGT-ACC' },
  ],
  total: '227.00',
  currency: 'USD',
});

async function post(url: string, auth: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(120_000),
  });
  return { status: response.status, text: await response.text() };
}

/**
 * The largest `first` (1–100) whose heavy query the gateway answers 200
 * rather than refusing it as over a limit; 0 when it refuses even `first: 1`.
 */
async function heaviestAllowedFirst(base: string, auth: string, aliases: number): Promise<{ first: number; bytes: number }> {
  let low = 0;
  let high = 100;
  let bytes = 0;
  while (low < high) {
    const first = Math.ceil((low + high) / 2);
    const { status, text } = await post(`${base}/graphql`, auth, JSON.stringify({ query: heavyQuery(aliases, first) }));
    const refused = status !== 200 || /QUERY_LIMIT_EXCEEDED/.test(text.slice(0, 2000));
    log(`fairness: probe aliases=${aliases} first=${first}: HTTP ${status}${refused ? ' (refused)' : `, ${(text.length / MB).toFixed(1)} MB`}`);
    if (refused) high = first - 1;
    else {
      low = first;
      bytes = text.length;
    }
  }
  return { first: low, bytes };
}

/**
 * The victim's reads, driven here rather than by autocannon: a request still
 * waiting when the phase ends is waited for and counted with its whole
 * latency (autocannon drops those, which hides the worst of a starved phase).
 */
async function victimReads(base: string, auth: string, nextId: () => string, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let bytes = 0;
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const started = performance.now();
      try {
        const response = await fetch(`${base}/api/orders/${nextId()}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(60_000) });
        bytes += (await response.arrayBuffer()).byteLength;
        latencies.push(performance.now() - started);
        statusCodes[response.status] = (statusCodes[response.status] ?? 0) + 1;
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') timeouts++;
        else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: settings.victimConnections }, worker));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? NaN : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]));
  return { requests: latencies.length, medianMs: at(0.5), p99Ms: at(0.99), statusCodes, errors, timeouts, bytesPerResponse: latencies.length > 0 ? Math.round(bytes / latencies.length) : 0 };
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const cli = gatewayCli();
  let env: NodeJS.ProcessEnv;
  if (settings.databaseUrl) {
    const name = `og_fairness_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: settings.databaseUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const dropper = new Client({ connectionString: settings.databaseUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    });
    const url = new URL(settings.databaseUrl);
    url.pathname = `/${name}`;
    env = childEnv({ DATABASE_URL: url.toString() });
  } else {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-fairness-'));
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    env = childEnv({ DATA_DIR: dataDir });
  }
  const database = settings.databaseUrl ? 'PostgreSQL' : 'embedded';
  log(`fairness: ${database}; migrating and creating the workspaces …`);
  run(process.execPath, [...cli, 'migrate'], { ...env, LOG_LEVEL: 'warn' });
  const keyOf = (workspace: string) =>
    `Bearer ${(JSON.parse(run(process.execPath, [...cli, 'apikey', 'create', '--workspace', workspace, '--json'], { ...env, LOG_LEVEL: 'warn' })) as { key: string }).key}`;
  const heavyAuth = keyOf('heavy');
  const victimAuth = keyOf('victim');

  const port = await freePort();
  const logPath = path.join(os.tmpdir(), `og-fairness-${port}.log`);
  const logFd = fs.openSync(logPath, 'w');
  const gateway = spawn(process.execPath, [...cli, 'serve'], {
    cwd: ROOT,
    env: {
      ...env,
      PORT: String(port),
      HOST,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      MIGRATE_ON_START: 'false',
      RATE_LIMIT_PER_MINUTE: '1000000',
      METRICS_TOKEN: randomBytes(16).toString('hex'),
    },
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  children.add(gateway);
  const exited = new Promise<void>((resolve) => gateway.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (gateway.exitCode === null && gateway.signalCode === null) {
      gateway.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000).then(() => gateway.kill('SIGKILL'))]);
    }
    fs.rmSync(logPath, { force: true });
  });
  const base = `http://${HOST}:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (gateway.exitCode !== null) throw new Error(`the gateway exited during start-up:\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
    if (attempt > 600) throw new Error('the gateway did not become ready within 60 s');
    const ready = await fetch(`${base}/readyz`).then((res) => res.status === 200, () => false);
    if (ready) break;
    await sleep(100);
  }

  log(`fairness: seeding ${settings.orders} heavy orders of ${settings.items} items and 50 small victim orders …`);
  for (let i = 0; i < settings.orders; i++) {
    const { status, text } = await post(`${base}/api/orders`, heavyAuth, heavyOrder(i, settings.items));
    if (status !== 201) throw new Error(`seeding a heavy order answered ${status}: ${text.slice(0, 500)}`);
  }
  const victimIds: string[] = [];
  for (let i = 0; i < 50; i++) {
    const { status, text } = await post(`${base}/api/orders`, victimAuth, SMALL_ORDER);
    if (status !== 201) throw new Error(`seeding a victim order answered ${status}: ${text.slice(0, 500)}`);
    victimIds.push((JSON.parse(text) as { data: { id: string } }).data.id);
  }

  const aliases = 15;
  const heaviest = await heaviestAllowedFirst(base, heavyAuth, aliases);
  log(`fairness: heaviest allowed query: ${aliases} aliases × orders(first: ${heaviest.first}), ${(heaviest.bytes / MB).toFixed(1)} MB a response`);

  let next = 0;
  const victimLoad = (seconds: number) => victimReads(base, victimAuth, () => victimIds[next++ % victimIds.length], seconds);

  const rss = new RssSampler(gateway.pid as number);
  await victimLoad(2); // warm-up, not measured
  const restingRssMb = Math.round(rss.readKb() / 1024);

  log(`fairness: phase 1: the victim alone, ${settings.seconds} s …`);
  rss.start();
  const alone = await victimLoad(settings.seconds);
  const aloneRssMb = rss.stop();

  log(`fairness: phase 2: the victim while the heavy workspace sends ${settings.heavyConnections} heavy queries at a time …`);
  const heavyBody = JSON.stringify({ query: heavyQuery(aliases, Math.max(1, heaviest.first)) });
  rss.start();
  const heavyPromise = load({
    url: `${base}/graphql`,
    connections: settings.heavyConnections,
    // Runs until the victim's phase is over (stopped below).
    duration: settings.seconds + 600,
    timeout: 120,
    method: 'POST',
    headers: { authorization: heavyAuth, 'content-type': 'application/json' },
    body: heavyBody,
  });
  await sleep(1000);
  const readyz = { probes: 0, notOk: 0 };
  let probing = true;
  const prober = (async () => {
    while (probing) {
      readyz.probes++;
      const ok = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5000) }).then((res) => res.status === 200, () => false);
      if (!ok) readyz.notOk++;
      await sleep(250);
    }
  })();
  const contended = await victimLoad(settings.seconds);
  probing = false;
  await prober;
  for (const running of loads) running.stop();
  const heavy = await heavyPromise;
  const contendedRssMb = rss.stop();

  const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : NaN);
  const report = {
    when: new Date().toISOString(),
    commit: (() => {
      try {
        return run('git', ['rev-parse', '--short', 'HEAD'], process.env).trim();
      } catch {
        return 'unknown';
      }
    })(),
    database,
    settings,
    heavyQuery: { aliases, first: heaviest.first, bytesPerResponse: heaviest.bytes },
    victimAlone: alone,
    victimWhileHeavy: contended,
    heavy,
    readyzDuringHeavy: readyz,
    rssMb: { resting: restingRssMb, peakAlone: aloneRssMb, peakWhileHeavy: contendedRssMb },
    ratios: {
      victimMedian: ratio(contended.medianMs, alone.medianMs),
      victimP99: ratio(contended.p99Ms, alone.p99Ms),
      rssPeak: ratio(contendedRssMb, aloneRssMb),
    },
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);

  const line = (label: string, r: LoadResult) =>
    `${label.padEnd(30)} ${String(r.medianMs).padStart(8)} ms ${String(r.p99Ms).padStart(8)} ms ${String(r.requests).padStart(8)}   ${JSON.stringify(r.statusCodes)}`;
  process.stdout.write(
    [
      '',
      `fairness (${database}, commit ${report.commit}, ${settings.seconds} s a phase)`,
      `heavy query: ${aliases} aliases × orders(first: ${heaviest.first}) over orders of ${settings.items} items, ${(heaviest.bytes / MB).toFixed(2)} MB a response`,
      '',
      `${'victim GET /api/orders/:id'.padEnd(30)} ${'median'.padStart(11)} ${'p99'.padStart(11)} ${'requests'.padStart(8)}   statuses`,
      line('alone', alone),
      line('while heavy', contended),
      `${'ratio (while heavy / alone)'.padEnd(30)} ${String(report.ratios.victimMedian).padStart(11)} ${String(report.ratios.victimP99).padStart(11)}`,
      '',
      `heavy requests: ${heavy.requests} answered ${JSON.stringify(heavy.statusCodes)}, ${heavy.errors} errors, ${(heavy.bytesPerResponse / MB).toFixed(2)} MB a response, median ${heavy.medianMs} ms`,
      `/readyz during phase 2: ${readyz.notOk} of ${readyz.probes} probes not 200`,
      `gateway RSS: ${restingRssMb} MB at rest, peak ${aloneRssMb} MB alone, peak ${contendedRssMb} MB while heavy (ratio ${report.ratios.rssPeak})`,
      `written to ${path.relative(ROOT, RESULTS)}`,
      '',
    ].join('\n'),
  );
}

main()
  .then(cleanUp)
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    process.stderr.write(`fairness: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await cleanUp();
    process.exit(1);
  });
