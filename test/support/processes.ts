/** Runs the real `order-gateway` command (from source) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/cli.ts')];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // The child picks its database from DATA_DIR alone unless a test says otherwise.
  const { DATABASE_URL: _ignored, ...env } = process.env;
  return { ...env, LOG_LEVEL: 'warn', NODE_ENV: 'test', ...extra };
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
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

/** Starts `order-gateway serve` on a free port and waits until it listens. */
export function startServer(env: Record<string, string>, timeoutMs = 30_000): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'serve'], {
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
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; output: ${output}`));
    });
  });
}
