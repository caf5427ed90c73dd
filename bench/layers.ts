/**
 * `npm run bench:layers`: what the gateway's own layers cost per create, with
 * no database, socket or load generator in the measurement.
 *
 * The app is built as `serve` builds it (production settings, per-key rate
 * limit raised), on an in-memory embedded database. One REST and one GraphQL
 * create are stored; then the order service's create is replaced by one that
 * answers with that stored result, and creates are sent through Fastify's
 * `inject` (the whole HTTP pipeline: hooks, auth, rate limit, body parsing,
 * Apollo, TypeGraphQL, graphql-jit, validation, presenters), one at a time.
 * For each transport it reports:
 *
 * - promises per create, counted with an `async_hooks` hook (exact: the same
 *   every run);
 * - bytes allocated per create, from V8's sampling heap profiler with
 *   collected objects kept (within a few per cent from run to run);
 * - CPU µs per create, the median of BENCH_ROUNDS rounds of BENCH_CREATES
 *   (this machine's noise applies: ±15 % between runs);
 *
 * and GraphQL's figures as a ratio to REST's, both measured in this process.
 * The first two do not depend on how busy the machine is, so they can judge a
 * small change that a load test on 2 shared cores cannot resolve (README,
 * Performance). Migrating the database switches on Node 20's promise hooks
 * for good (MikroORM's AsyncLocalStorage), as it does in `serve`, so each
 * promise here also pays for them.
 *
 * Settings: BENCH_ROUNDS (5), BENCH_CREATES (4000 per round), BENCH_TOP (0: when
 * set, the N functions that allocate the most per create, and the N places
 * that make the most promises, are listed per transport),
 * BENCH_SERVICE (`stored`, the default, as above; `real`: every create is a real
 * one, validated and written, so the service's and the driver's own work count
 * too; on the embedded database, whose engine then runs in this process, or
 * with DATABASE_URL on a throwaway database of that server), EVENTS_OUTBOX
 * (false: creates write no event; with BENCH_SERVICE=real, what the outbox costs).
 */
import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { buildApp } from '../src/app/app';
import { loadConfig } from '../src/config/config';
import { databaseTarget, openDatabase } from '../src/db/database';
import { throwawayServerDatabase } from './database';
import { renderTable } from './report';
import { choiceEnv, intEnv, ROOT } from './settings';
import { log, median, round1, round2 } from './util';

const rounds = intEnv('BENCH_ROUNDS', 5, 1, 50);
const creates = intEnv('BENCH_CREATES', 4000, 100, 1_000_000);
const top = intEnv('BENCH_TOP', 0, 0, 200);
const service = choiceEnv('BENCH_SERVICE', ['stored', 'real'] as const, 'stored');
const WARMUP = 5000;

const requests = path.join(ROOT, 'bench/side-by-side/requests');
const bodies = {
  rest: { url: '/api/orders', payload: fs.readFileSync(path.join(requests, 'rest-body.json'), 'utf8') },
  graphql: {
    url: '/graphql',
    payload: JSON.stringify({
      query: fs.readFileSync(path.join(requests, 'create-order.graphql'), 'utf8'),
      variables: JSON.parse(
        fs.readFileSync(path.join(requests, 'graphql-variables.json'), 'utf8'),
      ) as unknown,
    }),
  },
};
type Transport = keyof typeof bodies;

interface SampledNode {
  selfSize: number;
  children: SampledNode[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}
/** Bytes a sampling heap profile's tree holds, its node and all below. */
const allocated = (node: SampledNode): number =>
  node.children.reduce((sum, child) => sum + allocated(child), node.selfSize);
/** Bytes allocated by each function itself (not its callees), keyed by name and place. */
function bySite(node: SampledNode, sites = new Map<string, number>()): Map<string, number> {
  const { functionName, url, lineNumber } = node.callFrame;
  const place = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
  const key = `${functionName || '(anonymous)'} ${place}:${lineNumber + 1}`;
  sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
  for (const child of node.children) bySite(child, sites);
  return sites;
}

/**
 * Where a promise was made: the first frame of its stack outside Node's own
 * code, this file and the built-ins' anonymous frames (`Promise.then`), as
 * the package (or our file), line and function.
 */
function promiseSite(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').slice(1);
  const frame =
    frames.find(
      (line) => !line.includes('(node:') && !line.includes('(<anonymous>)') && !line.includes(__filename),
    ) ?? '?';
  return frame
    .trim()
    .replace(/^at /, '')
    .split(`${ROOT}/`)
    .join('')
    .replace(/\(.*node_modules\//, '(');
}

async function main(): Promise<void> {
  const server = service === 'real' ? process.env.DATABASE_URL?.trim() : undefined;
  // `DATABASE_URL` (real service only): a throwaway database on that server, dropped at the end.
  const throwaway = server ? await throwawayServerDatabase(server, 'bench_layers') : undefined;
  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    METRICS_TOKEN: randomBytes(16).toString('hex'),
    RATE_LIMIT_PER_MINUTE: '1000000',
    // EVENTS_OUTBOX=false measures a create without its event (what the outbox costs).
    ...(process.env.EVENTS_OUTBOX ? { EVENTS_OUTBOX: process.env.EVENTS_OUTBOX } : {}),
    ...(throwaway ? { DATABASE_URL: throwaway.url } : {}),
  });
  const db = await openDatabase(throwaway ? databaseTarget(config) : { kind: 'embedded', dataDir: null });
  await db.migrate();
  const app = await buildApp({ config: { ...config, maxEventLoopDelayMs: 0 }, db });
  await app.services.auth.createWorkspace('layers', 'UTC');
  const authorization = `Bearer ${(await app.services.auth.createApiKey('layers')).key}`;
  const send = async (transport: Transport) => {
    const { url, payload } = bodies[transport];
    const response = await app.http.inject({
      method: 'POST',
      url,
      payload,
      headers: { authorization, 'content-type': 'application/json' },
    });
    if (response.statusCode >= 300 || response.body.includes('"errors"'))
      throw new Error(`${transport} create answered ${response.statusCode}: ${response.body.slice(0, 300)}`);
  };
  if (service === 'stored') {
    // The first create is stored; every later one answers with its result: what remains is the gateway's own work.
    const orders = app.services.orders;
    const create = orders.createOrderExactlyOnce.bind(orders);
    let stored: ReturnType<typeof create> | undefined;
    orders.createOrderExactlyOnce = (...args) => (stored ??= create(...args));
  }
  for (const transport of ['rest', 'graphql'] as const) await send(transport);

  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  const results: Record<Transport, { promises: number; bytes: number; cpu: number; cpuRounds: number[] }> =
    {} as never;
  for (const transport of ['rest', 'graphql'] as const) {
    for (let i = 0; i < WARMUP; i++) await send(transport);
    const cpuRounds: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const start = process.cpuUsage();
      for (let i = 0; i < creates; i++) await send(transport);
      const used = process.cpuUsage(start);
      cpuRounds.push((used.user + used.system) / creates);
    }

    let promises = 0;
    const promiseSites = new Map<string, number>();
    const counter = createHook({
      init(_id, type) {
        if (type !== 'PROMISE') return;
        promises++;
        if (top > 0) {
          const site = promiseSite(new Error().stack);
          promiseSites.set(site, (promiseSites.get(site) ?? 0) + 1);
        }
      },
    }).enable();
    const counted = 500;
    for (let i = 0; i < counted; i++) await send(transport);
    counter.disable();
    if (top > 0) {
      console.log(`\n${transport}: promises per create by where they are made (the ${top} commonest)`);
      for (const [site, count] of [...promiseSites].sort((a, b) => b[1] - a[1]).slice(0, top))
        console.log(`${(count / counted).toFixed(2).padStart(7)}  ${site}`);
    }

    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const sampled = 2000;
    for (let i = 0; i < sampled; i++) await send(transport);
    const { profile } = await session.post('HeapProfiler.stopSampling');
    const bytes = allocated(profile.head) / sampled;
    if (top > 0) {
      const sites = [...bySite(profile.head)].sort((a, b) => b[1] - a[1]).slice(0, top);
      console.log(
        `\n${transport}: bytes allocated per create by the ${top} functions that allocate the most`,
      );
      for (const [site, size] of sites)
        console.log(`${String(Math.round(size / sampled)).padStart(7)}  ${site}`);
    }

    results[transport] = { promises: promises / counted, bytes, cpu: median(cpuRounds), cpuRounds };
    log(`bench:layers: ${transport} done`);
  }
  session.disconnect();
  await app.close();
  await db.close();
  await throwaway?.drop();

  const { rest, graphql } = results;
  const rows = [
    ['', 'promises per create', 'KB allocated per create', 'CPU µs per create (median)', 'CPU rounds'],
    ...(['rest', 'graphql'] as const).map((transport) => [
      transport,
      String(round1(results[transport].promises)),
      String(round1(results[transport].bytes / 1024)),
      String(round1(results[transport].cpu)),
      results[transport].cpuRounds.map((value) => Math.round(value)).join(' '),
    ]),
    [
      'graphql / rest',
      `${round2(graphql.promises / rest.promises)}x`,
      `${round2(graphql.bytes / rest.bytes)}x`,
      `${round2(graphql.cpu / rest.cpu)}x`,
      '',
    ],
  ];
  console.log(
    `\nbench:layers: creates through inject, ${service === 'stored' ? 'the service answering a stored result' : `real creates on ${throwaway ? 'PostgreSQL' : 'the embedded database'}`} (${rounds} rounds of ${creates})\n`,
  );
  console.log(renderTable(rows, [false, true, true, true, false]));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
