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
 * Settings: environment variables, listed in bench/settings.ts.
 *
 * The gateway runs with NODE_ENV=production and its per-key rate limit raised
 * to RATE_LIMIT_PER_MINUTE=1000000 (unless that is set): the limiter still runs
 * on every request but never refuses one. Only 127.0.0.1 is ever targeted.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { checkDatabase, createBenchDatabase, openSql } from './database';
import {
  PATHS,
  type PathReport,
  REST_BODY,
  TARGETS,
  type Target,
  accounting,
  call,
  orderIds,
  recordCreated,
  runLoad,
  summarise,
} from './load';
import { checkParity } from './parity';
import {
  type HeapReading,
  PgSampler,
  RssSampler,
  type Server,
  abort,
  aborting,
  cleanUp,
  compileBaseline,
  createBenchKey,
  onCleanup,
  prepareGatewayCommand,
  probeHeap,
  startServer,
  stopServer,
  trimLog,
  waitReady,
} from './processes';
import { writeReport } from './report';
import { HOST, type PathKey, ROOT, realPostgres, settings, withBaseline } from './settings';
import { freePort } from '../test/support/pg-cluster';
import { childEnv, describe, log, round1, round2 } from './util';

/** Orders that exist before a read path runs: more than one default list page (50). */
const READ_SEED_ORDERS = 120;

async function main(): Promise<number> {
  const started = Date.now();
  const notes: string[] = [];
  const perTarget = withBaseline ? 2 : 1;
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

  const { dbEnv, sqlTarget } = await createBenchDatabase(tmp);
  const auth = await createBenchKey(cli, dbEnv, sqlTarget, notes);

  // As in production (which needs a /metrics token), the rate limit raised (see the top).
  const gatewayOverrides: Record<string, string | undefined> = {
    NODE_ENV: 'production',
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: settings.gatewayLogLevel,
    RATE_LIMIT_PER_MINUTE: process.env.RATE_LIMIT_PER_MINUTE?.trim() || '1000000',
    METRICS_TOKEN: randomBytes(16).toString('hex'),
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
    if (withBaseline) {
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
    if ((key === 'get' || key === 'list') && accounting.created < READ_SEED_ORDERS) {
      // Too few creates ran before the reads (BENCH_PATHS=get,list): make enough orders
      // that the list's default page (50) is full, as it is after the create paths.
      const missing = READ_SEED_ORDERS - accounting.created;
      for (let start = 0; start < missing; start += 10) {
        const batch = Array.from({ length: Math.min(10, missing - start) }, () =>
          call(gatewayServer, 'POST', '/api/orders', { body: REST_BODY('contact_abc123'), auth }),
        );
        for (const response of await Promise.all(batch)) {
          if (response.status === 201) recordCreated(response.text);
        }
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

  writeReport({
    started,
    notes,
    commit,
    dirtySrc,
    built,
    sqlVersion: sql.version,
    gatewayOverrides,
    reports,
    heapSeries,
    startHeap,
    gatewayRss,
    baselineRss,
    parity,
    correctness,
    gatewayShutdown,
    baselineShutdown,
    targets,
    withBaseline: baselineServer !== undefined,
  });
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
