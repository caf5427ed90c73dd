/**
 * Eight `order-gateway serve` processes started at once on one DATA_DIR:
 * exactly one takes the embedded database and serves, the other seven stop
 * with the lock’s message and exit 75 (try again later), whatever lock file was left there: none,
 * one naming a dead process (each start used to delete and recreate it, so
 * two could both win), or one naming pid 1 (a restarted container's own pid,
 * which used to block every start). (Slow: eight processes; `npm run test:slow`.)
 * Always the embedded database; it runs in the slow tier's embedded pass.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { usingRealPostgres } from '../support/database';
import { cleanEnv, spawnTracked } from '../support/processes';

const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/cli.ts'), 'serve'];
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(
    children.map((child) =>
      child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve(),
    ),
  );
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  child: ChildProcess;
  /** The address it listens on, or its exit code and output when it stopped instead. */
  result: { listening: string } | { exitCode: number | null; output: string };
}

function start(dataDir: string): Promise<Outcome> {
  const child = spawnTracked(process.execPath, CLI, {
    cwd: ROOT,
    env: cleanEnv({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', METRICS_TOKEN: 'test-metrics-token-0123456789' }),
  });
  children.push(child);
  let output = '';
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const address = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1];
      if (address) resolve({ child, result: { listening: address } });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (exitCode) => resolve({ child, result: { exitCode, output } }));
  });
}

it.skipIf(usingRealPostgres).each([
  ['no lock file', undefined],
  ['a lock file naming a dead process', '999999999'],
  ['a lock file naming pid 1', '1'],
])('eight simultaneous starts on one DATA_DIR with %s leave exactly one server (embedded only: skipped in the PostgreSQL pass)', async (_name, lockFile) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-lock8-'));
  dirs.push(dataDir);
  if (lockFile) fs.writeFileSync(path.join(dataDir, 'gateway.lock'), `${lockFile}\n`);
  const outcomes = await Promise.all(Array.from({ length: 8 }, () => start(dataDir)));
  const serving = outcomes.filter((outcome) => 'listening' in outcome.result);
  const refused = outcomes.filter((outcome) => !('listening' in outcome.result));
  expect(serving).toHaveLength(1);
  expect(refused).toHaveLength(7);
  for (const { result } of refused) {
    expect(result).toMatchObject({ exitCode: 75 });
    expect((result as { output: string }).output).toContain(`The embedded database in ${dataDir} is in use by`);
  }

  // The one server works, and stops cleanly.
  const [winner] = serving as [Outcome];
  const address = (winner.result as { listening: string }).listening;
  expect((await fetch(`${address}/readyz`)).status).toBe(200);
  const exited = new Promise((resolve) => winner.child.once('exit', resolve));
  winner.child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 300_000);
