/**
 * The bench's settings and fixed constants.
 *
 * Settings (environment):
 *   DATABASE_URL           real PostgreSQL server (a fresh database is created on it and dropped)
 *   BENCH_ROUNDS           rounds per path and target (default 5)
 *   BENCH_SECONDS          seconds per round (default 5)
 *   BENCH_WARMUP_SECONDS   unmeasured warm-up per path and target (default 2; 0 = none)
 *   BENCH_CONNECTIONS      concurrent connections (default 10)
 *   BENCH_RUNNER           dist (default: node dist/…, built first when stale) or swc (node -r @swc-node/register src/…)
 *   BENCH_BASELINE         on (default) or off: off runs the gateway alone on a server too, every round
 *                          its own (a soak: BENCH_BASELINE=off BENCH_PATHS=graphql-create BENCH_ROUNDS=30 BENCH_SECONDS=20)
 *   BENCH_BASELINE_MODE    single (default: key lookup, counter, order and items in one statement)
 *                          or tx (BEGIN, key lookup, the CTE statement, COMMIT: four round trips)
 *   BENCH_PATHS            comma list of rest-create,graphql-create,get,list (default: all)
 *   BENCH_GATEWAY_LOG_LEVEL  LOG_LEVEL for the gateway (default: the gateway's own default)
 *   DB_POOL_MAX            passed to the gateway; the baseline uses the same pool size (default 4)
 *   BENCH_CPU_PROF         a folder: the gateway runs with --cpu-prof and writes its profile there on exit
 */
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
export const HOST = '127.0.0.1';
export const RESULTS = path.join(__dirname, 'results', 'latest.json');
export const ITEMS_PER_ORDER = 2;
export const MB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Settings

export type PathKey = 'rest-create' | 'graphql-create' | 'get' | 'list';
export const ALL_PATHS: PathKey[] = ['rest-create', 'graphql-create', 'get', 'list'];

export function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

export function choiceEnv<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

export const settings = {
  databaseUrl: process.env.DATABASE_URL?.trim() || undefined,
  rounds: intEnv('BENCH_ROUNDS', 5, 1, 50),
  seconds: intEnv('BENCH_SECONDS', 5, 1, 120),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 2, 0, 60),
  connections: intEnv('BENCH_CONNECTIONS', 10, 1, 256),
  runner: choiceEnv('BENCH_RUNNER', ['dist', 'swc'] as const, 'dist'),
  baseline: choiceEnv('BENCH_BASELINE', ['on', 'off'] as const, 'on'),
  baselineMode: choiceEnv('BENCH_BASELINE_MODE', ['single', 'tx'] as const, 'single'),
  paths: (process.env.BENCH_PATHS?.trim() || ALL_PATHS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean) as PathKey[],
  gatewayLogLevel: process.env.BENCH_GATEWAY_LOG_LEVEL?.trim() || undefined,
  poolMax: intEnv('DB_POOL_MAX', 4, 2, 500),
  cpuProfDir: process.env.BENCH_CPU_PROF?.trim()
    ? path.resolve(process.env.BENCH_CPU_PROF.trim())
    : undefined,
};
for (const name of settings.paths) {
  if (!ALL_PATHS.includes(name))
    throw new Error(`BENCH_PATHS: unknown path "${name}"; known: ${ALL_PATHS.join(', ')}`);
}
export const realPostgres = settings.databaseUrl !== undefined;
/** The hand-written baseline runs only on a server (it needs one), and can be switched off. */
export const withBaseline = realPostgres && settings.baseline === 'on';
