/** Child processes: building and starting the gateway and the baseline, stopping them, cleaning up, sampling memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { transformFileSync } from '@swc/core';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { ulid } from 'ulid';
import { openSql } from './database';
import { HOST, MB, ROOT, settings } from './settings';
import { childEnv, describe, log, round1, round2, runCommand, sleep, withTimeout } from './util';

// ---------------------------------------------------------------------------
// Clean-up: children are always killed, the database dropped, temp folders removed.

export const children = new Set<ChildProcess>();
export const cleanups: { name: string; run: () => Promise<void> }[] = [];
export let aborting: string | undefined;
export let currentLoad: autocannon.Instance | undefined;
/** The autocannon run in progress, stopped first when the bench aborts. */
export function setCurrentLoad(instance: autocannon.Instance | undefined): void {
  currentLoad = instance;
}

export function onCleanup(name: string, run: () => Promise<void>): void {
  cleanups.push({ name, run });
}

export async function cleanUp(): Promise<void> {
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

export function abort(reason: string, exitCode: number): void {
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
// The gateway's command, from dist/ (built when stale) or from src/ through SWC

export function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

export async function prepareGatewayCommand(notes: string[]): Promise<{ cli: string[]; built: boolean }> {
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
export function compileBaseline(): string {
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

export interface Server {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  logPath: string;
  exited: Promise<void>;
}

export function startServer(
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
export const STOP_GRACE_MS = 5000;

/**
 * SIGTERM; if the server has not exited after the grace period, ask the heap
 * probe (when preloaded) to exit the process, so a --cpu-prof profile is
 * still written; SIGKILL as the last resort. Says what happened.
 */
export async function stopServer(server: Server): Promise<string> {
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

export function logTail(server: Server, bytes = 3000): string {
  try {
    const text = fs.readFileSync(server.logPath, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '(no log)';
  }
}

/** Keeps a server's log file small between rounds (the gateway logs every request at the default level). */
export function trimLog(server: Server): void {
  try {
    if (fs.statSync(server.logPath).size > 32 * MB) fs.truncateSync(server.logPath, 0);
  } catch {
    // The log is only for diagnosis.
  }
}

export async function waitReady(
  server: Server,
  probe: string,
  ready: (status: number) => boolean,
): Promise<void> {
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

export class RssSampler {
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
export class PgSampler {
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

export interface HeapReading {
  heapUsedMb: number;
  heapTotalMb: number;
  rssMb: number;
  afterGc: boolean;
}

export let heapProbeId = 0;
export async function probeHeap(server: Server): Promise<HeapReading | null> {
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

/** Migrates the database and makes the bench's workspace and key with the gateway's own CLI; returns the Authorization value. */
export async function createBenchKey(
  cli: string[],
  dbEnv: Record<string, string>,
  sqlTarget: { url: string } | { dataDir: string },
  notes: string[],
  workspace = 'bench',
): Promise<string> {
  const cliEnv = childEnv({ ...dbEnv, NODE_ENV: 'production', LOG_LEVEL: 'warn' });
  await runCommand(process.execPath, [...cli, 'migrate'], cliEnv, 180_000);
  const createKey = () =>
    runCommand(
      process.execPath,
      [...cli, 'apikey', 'create', '--workspace', workspace, '--json'],
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
        `insert into workspaces (id, slug, time_zone, created_at) values ($1, $2, 'UTC', now()) on conflict do nothing`,
        [`ws_${ulid()}`, workspace],
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
  return auth;
}
