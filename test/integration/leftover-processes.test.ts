/**
 * No process started by a test outlives the run: a failing test's tracked
 * child is stopped after that test, and anything else still running at the
 * end is killed and fails the run, by name.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return fs.existsSync(`/proc/${pid}`) ? !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')) : true;
  } catch {
    return false;
  }
};

it.skipIf(process.platform !== 'linux')('a run whose tests leave processes behind stops them all and fails, naming the one it did not track', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-leaks-'));
  const pidsFile = path.join(dir, 'pids');
  fs.writeFileSync(pidsFile, '');
  const vitest = (...args: string[]) => {
    const run = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/fixtures/leaks/vitest.config.mts', '--reporter=dot', ...args],
      { cwd: ROOT, env: { ...process.env, LEAK_PIDS_FILE: pidsFile, NO_COLOR: '1' }, encoding: 'utf8', timeout: 90_000 },
    );
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  };
  try {
    // Only the passing test: the leftover alone fails the run.
    const quiet = vitest('-t', 'forgets');
    const [forgotten] = fs.readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
    expect(quiet.output).toMatch(/Tests\s+1 passed/);
    expect(quiet.status, quiet.output).toBe(1);
    expect(quiet.output).toContain(`pid ${forgotten}: sleep 301`);
    expect(alive(forgotten)).toBe(false);

    fs.writeFileSync(pidsFile, '');
    const run = vitest();
    const output = run.output;
    const [tracked, untracked] = fs.readFileSync(pidsFile, 'utf8').trim().split('\n').map(Number);
    expect(run.status, output).not.toBe(0);
    expect(output).toContain('setup: stopped 1 process(es) the test left running');
    expect(output).toContain('1 process(es) started by this test run were still running after it (killed now)');
    expect(output).toContain(`pid ${untracked}: sleep 301`);
    expect(output).not.toContain(`pid ${tracked}:`);
    expect(alive(tracked)).toBe(false);
    expect(alive(untracked)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
