/**
 * Child processes in tests: the real `order-gateway` command (from source),
 * and anything else a test starts with `spawnTracked`.
 *
 * Every child is tracked. One started during a test is stopped after that
 * test (test/support/setup.ts: afterEach), one started in a `beforeAll` after
 * its file (afterAll), whether the test passed, failed or timed out; and any
 * still running when the worker exits is killed. The global teardown
 * (test/support/global-setup.ts) then fails the run if any process started by
 * it is still alive, whoever started it.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
// Absolute, so that a child may run in another folder (the CLI reads ./.env and ./data there).
const CLI = ['-r', require.resolve('@swc-node/register'), path.join(ROOT, 'src/cli/cli.ts')];

// ---------------------------------------------------------------------------
// Tracking

interface Tracked {
  child: ChildProcess;
  /** The value of `generation` when it started: children of a test have one above the test's start mark. */
  generation: number;
  exited: Promise<void>;
}

const running = new Set<Tracked>();
let generation = 0;

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** `spawn`, with the child tracked and stopped by the hooks in setup.ts if the test does not stop it. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, options);
  const tracked: Tracked = {
    child,
    generation: ++generation,
    exited: new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // A child that never started (ENOENT) emits 'error' and no 'exit'.
      child.once('error', () => {
        if (child.pid === undefined) resolve();
      });
    }),
  };
  running.add(tracked);
  void tracked.exited.then(() => running.delete(tracked));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  const tracked = [...running].find((entry) => entry.child === child);
  if (!alive(child) || child.pid === undefined) return;
  const exited = tracked?.exited ?? new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => alive(child) && child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A mark to pass to `stopChildrenSince` later. */
export function childrenMark(): number {
  return generation;
}

/** Stops every tracked child started after `mark` (all of them by default); returns how many were running. */
export async function stopChildrenSince(mark = 0): Promise<number> {
  const stray = [...running].filter((entry) => entry.generation > mark && alive(entry.child));
  await Promise.all(stray.map((entry) => stopChild(entry.child)));
  return stray.length;
}

// The worker is going away (the file ended, vitest stops it): nothing it started may outlive it.
process.on('exit', () => {
  for (const { child } of running) if (alive(child)) child.kill('SIGKILL');
});

// ---------------------------------------------------------------------------
// The order-gateway command

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // The child picks its database from DATA_DIR alone unless a test says otherwise.
  const { DATABASE_URL: _ignored, ...env } = process.env;
  // ENV_FILE=none: a developer's .env never leaks into a test; the tests of .env set their own.
  // SWC_NODE_PROJECT: the child compiles with this repository's tsconfig (decorators) from any folder.
  return { ...env, LOG_LEVEL: 'warn', NODE_ENV: 'test', ENV_FILE: 'none', SWC_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'), ...extra };
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [...CLI, ...args], { cwd, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`order-gateway ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningServer {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The compiled CLI (`npm run build`), as production runs it. */
export const BUILT_CLI = [path.join(ROOT, 'bin/order-gateway.js')];

/** Starts `order-gateway serve` on a free port and waits until it listens; from the sources unless `cli` says otherwise. */
export function startServer(
  env: Record<string, string>,
  timeoutMs = 30_000,
  cli: readonly string[] = CLI,
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [...cli, 'serve'], {
      cwd: ROOT,
      // Info level, whatever the caller asks: the "listening" line is how we know it is up.
      // Servers here take bursts from one key (load and fault tests); the rate limit has its own tests.
      // Outside development `serve` needs METRICS_TOKEN or METRICS_PORT; a test that is about that sets its own.
      env: cleanEnv({ PORT: '0', RATE_LIMIT_PER_MINUTE: '1000000', METRICS_TOKEN: 'test-metrics-token-0123456789', ...env, LOG_LEVEL: 'info' }),
    });
    let output = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start; output: ${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      if (output.length < 1_000_000) output += chunk.toString();
      const match = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          output: () => output,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; output: ${output}`));
    });
  });
}
