/**
 * `npm run bench:peers`: the gateway's REST and GraphQL creates side by side with
 * the hand-written peers in bench/side-by-side (raw Fastify + pg, the limit, and
 * Mercurius + graphql-jit), in one run of the peers' own harness, so that every
 * figure is a ratio against the same limit measured on the same machine minutes
 * apart (issue 16).
 *
 * It needs a real PostgreSQL: DATABASE_URL names a server and a user that may
 * create databases (the default is the CI server). One run:
 *   1. installs the harness's and the peers' own dependencies when missing
 *      (each has its own package-lock.json, pinned);
 *   2. makes two throwaway databases on that server, one with the peers' schema
 *      (bench/side-by-side/schema.sql, the same list and trigram indexes as the
 *      gateway's) and one migrated by the gateway's CLI, with a key;
 *   3. runs bench/side-by-side/run.mjs, which starts the peers and two gateway
 *      processes (one per transport, so that each one's CPU is its own), loads
 *      them in alternating rounds, checks every stored order and prints the table;
 *   4. drops both databases.
 * Options after `--` go to run.mjs (`-c`, `-d`, `-r`, `-w`, `--json FILE`, `--only`, `--workspaces N`;
 * with N > 1 the gateway gets N workspaces of its own, made by its CLI, one key each).
 * BENCH_COMPARE_DIST=<another build's dist/> adds that build as two more targets
 * (compare-rest, compare-graphql): an A/B of a change in one run; BENCH_COMPARE_ENV
 * ("NAME=value …") gives those targets other settings, e.g. EVENTS_OUTBOX=false.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminStatement, throwawayServerDatabase } from './database';
import { abort, cleanUp, createBenchKey, onCleanup, prepareGatewayCommand } from './processes';
import { HOST, ROOT } from './settings';
import { log, runCommand } from './util';

const HARNESS = path.join(__dirname, 'side-by-side');
const PEERS = ['raw-fastify-pg', 'mercurius-jit'];
const SERVER_URL = process.env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/test';

/** A new database on the server, dropped when the run ends. */
async function throwawayDatabase(prefix: string): Promise<string> {
  const { name, url, drop } = await throwawayServerDatabase(SERVER_URL, prefix);
  onCleanup(`drop database ${name}`, drop);
  return url;
}

async function installWhenMissing(): Promise<void> {
  for (const dir of [HARNESS, ...PEERS.map((peer) => path.join(HARNESS, 'peers', peer))]) {
    if (fs.existsSync(path.join(dir, 'node_modules'))) continue;
    log(`bench:peers: npm ci in ${path.relative(ROOT, dir)}`);
    await runCommand('npm', ['ci', '--no-audit', '--no-fund', '--prefix', dir], process.env, 300_000);
  }
}

async function main(): Promise<number> {
  await installWhenMissing();
  const notes: string[] = [];
  const { cli } = await prepareGatewayCommand(notes);
  for (const note of notes) log(`bench:peers: ${note}`);

  const peersDb = await throwawayDatabase('bench_peers');
  const schema = ['schema.sql', 'seed.sql'].map((file) => fs.readFileSync(path.join(HARNESS, file), 'utf8'));
  await adminStatement(peersDb, `set client_min_messages = warning;\n${schema.join('\n')}`);

  const gatewayDb = await throwawayDatabase('bench_gateway');
  const auth = await createBenchKey(cli, { DATABASE_URL: gatewayDb }, { url: gatewayDb }, notes);
  const key = auth.replace(/^Bearer /, '');
  // `--workspaces N` (run.mjs): connection i sends key i % N. The peers' extra keys are seeded by
  // run.mjs; the gateway's are made by its own CLI, one workspace each (bench, bench_2 … bench_N).
  const workspaceArg = process.argv.indexOf('--workspaces');
  const workspaces = workspaceArg > 0 ? Number(process.argv[workspaceArg + 1]) : 1;
  const keys = [key];
  for (let i = 2; i <= workspaces; i++) {
    const extra = await createBenchKey(
      cli,
      { DATABASE_URL: gatewayDb },
      { url: gatewayDb },
      notes,
      `bench_${i}`,
    );
    keys.push(extra.replace(/^Bearer /, ''));
  }

  // The gateway as in production, with its per-key rate limit raised out of the way
  // (the limiter still runs on every request). run.mjs sets PORT and DATABASE_URL.
  const gatewayCmd = [process.execPath, ...cli, 'serve'].map((part) => JSON.stringify(part)).join(' ');
  const gatewayEnv = {
    NODE_ENV: 'production',
    MIGRATE_ON_START: 'false',
    HOST,
    LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL?.trim() || 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    METRICS_TOKEN: randomBytes(16).toString('hex'),
    ...(process.env.DB_POOL_MAX ? { DB_POOL_MAX: process.env.DB_POOL_MAX } : {}),
  };
  const targets = [
    {
      name: 'raw-fastify-pg',
      kind: 'rest',
      url: `http://${HOST}:3101/api/orders`,
      cmd: 'node peers/raw-fastify-pg/server.mjs',
      db: peersDb,
    },
    {
      name: 'mercurius-jit',
      kind: 'graphql',
      url: `http://${HOST}:3102/graphql`,
      cmd: 'node peers/mercurius-jit/server.mjs',
      db: peersDb,
    },
    {
      name: 'gateway-rest',
      kind: 'rest',
      url: `http://${HOST}:3111/api/orders`,
      cmd: gatewayCmd,
      env: gatewayEnv,
      key,
      keys,
      db: gatewayDb,
    },
    {
      name: 'gateway-graphql',
      kind: 'graphql',
      url: `http://${HOST}:3112/graphql`,
      cmd: gatewayCmd,
      env: gatewayEnv,
      key,
      keys,
      db: gatewayDb,
    },
  ];
  // BENCH_COMPARE_DIST=<a dist/ folder of another build>: that build too, on the same
  // database, in the same rounds (an A/B of a change, the baseline still the raw peer).
  // BENCH_COMPARE_ENV="NAME=value …": the compare targets get these settings on top (with
  // no BENCH_COMPARE_DIST, the same build: e.g. EVENTS_OUTBOX=false for events on against off).
  const compareDist = process.env.BENCH_COMPARE_DIST?.trim();
  const compareEnv = Object.fromEntries(
    (process.env.BENCH_COMPARE_ENV?.trim() ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  if (compareDist || Object.keys(compareEnv).length > 0) {
    const compareCli = compareDist ? [path.resolve(compareDist, 'cli/cli.js')] : cli;
    const compareCmd = [process.execPath, ...compareCli, 'serve']
      .map((part) => JSON.stringify(part))
      .join(' ');
    targets.push(
      {
        name: 'compare-rest',
        kind: 'rest',
        url: `http://${HOST}:3113/api/orders`,
        cmd: compareCmd,
        env: { ...gatewayEnv, ...compareEnv },
        key,
        keys,
        db: gatewayDb,
      },
      {
        name: 'compare-graphql',
        kind: 'graphql',
        url: `http://${HOST}:3114/graphql`,
        cmd: compareCmd,
        env: { ...gatewayEnv, ...compareEnv },
        key,
        keys,
        db: gatewayDb,
      },
    );
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'order-gateway-peers-'));
  onCleanup('remove temp folder', async () => fs.rmSync(tmp, { recursive: true, force: true }));
  const config = path.join(tmp, 'targets.json');
  fs.writeFileSync(config, JSON.stringify({ targets }, null, 2));

  const passThrough = process.argv.slice(2);
  log(
    `bench:peers: run.mjs ${passThrough.join(' ')} (peers on ${new URL(peersDb).pathname.slice(1)}, gateway on ${new URL(gatewayDb).pathname.slice(1)})`,
  );
  try {
    execFileSync(process.execPath, ['run.mjs', '--config', config, '--db', peersDb, ...passThrough], {
      cwd: HARNESS,
      stdio: 'inherit',
      env: { ...process.env, DATABASE_URL: peersDb },
    });
    return 0;
  } catch (error) {
    const status = (error as { status?: number }).status;
    return typeof status === 'number' ? status : 1;
  }
}

main()
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  })
  .catch((error: unknown) =>
    abort(error instanceof Error ? (error.stack ?? error.message) : String(error), 1),
  );
