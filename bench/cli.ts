/**
 * `npm run bench:cli`: wall-clock time of CLI commands on a fresh embedded
 * database (a temp DATA_DIR), run through the built `bin/order-gateway.js`
 * as a user runs them.
 *
 * Each command runs RUNS times (default 5) after one warm-up `migrate`; the
 * table gives the median and the slowest. With BASELINE=<another checkout>
 * the same commands run from that checkout's `bin/` too, in turns (A B A B …),
 * so that both see the same machine load, and the ratio is printed.
 *
 *   npm run build && npm run bench:cli
 *   BASELINE=/tmp/before12 RUNS=7 npm run bench:cli
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const RUNS = Number(process.env.RUNS ?? 5);
const targets: { name: string; root: string }[] = [{ name: 'this checkout', root: path.resolve(__dirname, '..') }];
if (process.env.BASELINE) targets.push({ name: 'baseline', root: path.resolve(process.env.BASELINE) });

const COMMANDS: { label: string; args: (i: number) => string[] }[] = [
  { label: 'workspace create', args: (i) => ['workspace', 'create', `bench-${i}`] },
  { label: 'apikey create', args: () => ['apikey', 'create', '--workspace', 'bench-0', '--json'] },
  { label: 'apikey list', args: () => ['apikey', 'list', '--workspace', 'bench-0'] },
];

function run(root: string, dataDir: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [path.join(root, 'bin/order-gateway.js'), ...args], {
    env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${root}: order-gateway ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const times = new Map<string, number[]>();
const dirs = targets.map((target) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-bench-cli-'));
  // One warm-up: migrations applied, files in the page cache.
  run(target.root, dir, ['migrate']);
  return dir;
});
try {
  for (let i = 0; i < RUNS; i++) {
    for (const command of COMMANDS) {
      targets.forEach((target, t) => {
        const key = `${target.name}\t${command.label}`;
        const ms = run(target.root, dirs[t], command.args(i));
        times.set(key, [...(times.get(key) ?? []), ms]);
      });
    }
  }
} finally {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
}

process.stdout.write(`CLI on the embedded database, ${RUNS} runs each (${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(1)})\n`);
for (const command of COMMANDS) {
  const cells = targets.map((target) => {
    const values = times.get(`${target.name}\t${command.label}`) ?? [];
    return { target: target.name, median: median(values), max: Math.max(...values) };
  });
  const line = cells.map((c) => `${c.target}: median ${Math.round(c.median)} ms, max ${Math.round(c.max)} ms`).join(' | ');
  const ratio = cells[1] ? ` | ratio ${(cells[1].median / cells[0].median).toFixed(1)}x` : '';
  process.stdout.write(`${command.label.padEnd(17)} ${line}${ratio}\n`);
}
