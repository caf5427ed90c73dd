/**
 * Every process a test run starts carries OG_TEST_RUN=<run id> in its
 * environment (children inherit it from the test workers, which inherit it
 * from the run). After the run, any process that still carries the id was
 * left behind by a test: the global teardown kills it and fails the run,
 * naming it. Linux only (it reads /proc); elsewhere it finds nothing.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';

export const RUN_VARIABLE = 'OG_TEST_RUN';

export interface Leftover {
  pid: number;
  command: string;
}

/** Processes, other than this one, whose environment holds `RUN_VARIABLE=runId`. */
export function processesOfRun(runId: string): Leftover[] {
  if (!fs.existsSync('/proc/self/environ')) return [];
  const marker = `${RUN_VARIABLE}=${runId}`;
  const found: Leftover[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (!environ.includes(marker)) continue;
      // A zombie has exited already; only its parent's wait is missing.
      if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${name}/status`, 'utf8'))) continue;
      const command = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(name), command });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Marks this run: every process started from here on inherits the id. */
export function markRun(): string {
  const runId = `${process.pid}-${randomUUID()}`;
  process.env[RUN_VARIABLE] = runId;
  return runId;
}

/**
 * Kills whatever the run left behind and returns a message naming it, or
 * `undefined` when nothing was left. Waits a little first: a child stopped in a
 * test's last `finally` may still be exiting.
 */
export async function reapRun(runId: string, graceMs = 3000): Promise<string | undefined> {
  const deadline = Date.now() + graceMs;
  let left = processesOfRun(runId);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = processesOfRun(runId);
  }
  if (left.length === 0) return undefined;
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return (
    `${left.length} process(es) started by this test run were still running after it (killed now); ` +
    `a test must stop what it starts in a finally or afterEach:\n` +
    left.map(({ pid, command }) => `  pid ${pid}: ${command.slice(0, 300)}`).join('\n')
  );
}
