/**
 * A throwaway PostgreSQL 15 cluster in a temporary folder, on a free port,
 * that a test may stop hard (`-m immediate`) and start again.
 * PostgreSQL refuses to run as root, so as root it runs as `postgres`.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  port: number;
  /** Its data folder (postmaster.pid names the postmaster). */
  dataDir: string;
  /** The server's log (pg_ctl -l). */
  logFile: string;
  url(database: string): string;
  start(): void;
  /** Stops at once, as a crash or a pulled cable would: no checkpoint, connections dropped. */
  stopImmediately(): void;
  /**
   * `pg_ctl restart -m fast`, as a DBA restarts it: sessions are ended, a checkpoint is written, the
   * server starts again. Asynchronous, so that the caller's requests go on meanwhile.
   */
  restartFast(): Promise<void>;
  destroy(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function run(command: string, args: string[]): void {
  const [file, argv] = asPostgres(command, args);
  execFileSync(file, argv, { stdio: 'pipe', timeout: 60_000 });
}

function runInBackground(command: string, args: string[]): Promise<void> {
  const [file, argv] = asPostgres(command, args);
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: 60_000 }, (error, _stdout, stderr) => (error ? reject(new Error(`${command}: ${stderr || error.message}`)) : resolve()));
  });
}

/** `settings`: more server settings (`-c name=value`), e.g. `shared_preload_libraries`. */
export async function createPgCluster(settings: Record<string, string> = {}): Promise<PgCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const port = await freePort();
  run(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const extra = Object.entries(settings).map(([name, value]) => ` -c ${name}=${value}`).join('');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${extra}`;
  const cluster: PgCluster = {
    port,
    dataDir: data,
    logFile: path.join(dir, 'log'),
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: () => run(`${BIN}/pg_ctl`, ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']),
    stopImmediately: () => run(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']),
    restartFast: () => runInBackground(`${BIN}/pg_ctl`, ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-m', 'fast', '-w', '-t', '30', 'restart']),
    destroy: () => {
      try {
        run(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  cluster.start();
  run(`${BIN}/createdb`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'gateway']);
  return cluster;
}
