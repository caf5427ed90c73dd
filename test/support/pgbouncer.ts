/**
 * PgBouncer (Debian's `pgbouncer` package) in front of a PostgreSQL server, as
 * the DBA runs it: a config of the test's own in a temporary folder, a free
 * port on 127.0.0.1, trust authentication for the users it is given, and the
 * pool mode under test. Never the system service.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './pg-cluster';
import { spawnTracked, stopChild } from './processes';
import type { Availability } from './services';

export const PGBOUNCER = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

/**
 * Whether `pgbouncer` runs. When it does not, prints why once and skips, or throws under
 * REQUIRE_SERVICES=1 (CI installs it), like `haproxyInstalled`.
 */
export function pgbouncerInstalled(binary = PGBOUNCER): Availability {
  const run = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 });
  if (!run.error && run.status === 0) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but ${binary} does not run`);
  const reason = `skipped: no ${binary} (apt-get install pgbouncer to run these; CI runs them)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

export interface RunningPgbouncer {
  port: number;
  /** `server`'s URL with PgBouncer's host and port instead (same user, database and parameters). */
  url(server: string): string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * PgBouncer forwarding every database to `server` (host and port of a `postgres://` URL), in
 * `poolMode`, letting in `users` without a password (the server itself trusts 127.0.0.1).
 */
export async function startPgbouncer(
  server: string,
  poolMode: 'transaction' | 'session',
  users: string[] = ['postgres'],
): Promise<RunningPgbouncer> {
  const port = await freePort();
  const upstream = new URL(server);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-pgbouncer-'));
  const log = path.join(dir, 'pgbouncer.log');
  fs.writeFileSync(path.join(dir, 'userlist.txt'), users.map((user) => `"${user}" ""\n`).join(''));
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `pool_mode = ${poolMode}`,
      'max_client_conn = 500',
      'default_pool_size = 20',
      `logfile = ${log}`,
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root; `-u` makes it drop to postgres, which must read the folder.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) spawnSync('chown', ['-R', 'postgres', dir]);
  const child = spawnTracked(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const readLog = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
  const deadline = Date.now() + 30_000;
  while (!/listening on 127\.0\.0\.1/.test(readLog())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`pgbouncer did not start: ${output}${readLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url(at: string) {
      const via = new URL(at);
      via.hostname = '127.0.0.1';
      via.port = String(port);
      return via.toString();
    },
    output: () => output + readLog(),
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
