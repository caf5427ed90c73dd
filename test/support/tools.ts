/**
 * Outside command-line tools a test drives (shellcheck, jq, bash, curl): whether they run
 * here. Like the services (services.ts) and nats-server (nats.ts): a missing tool skips its
 * tests, saying why once, and under REQUIRE_SERVICES=1 (CI, whose .ci/run installs them)
 * it fails instead.
 */
import { spawnSync } from 'node:child_process';
import type { Availability } from './services';

export function toolsInstalled(tools: Record<string, string[]>, install: string): Availability {
  const missing = Object.entries(tools)
    .filter(([binary, versionArgs]) => {
      const run = spawnSync(binary, versionArgs, { stdio: 'ignore', timeout: 10_000 });
      return run.error !== undefined || run.status !== 0;
    })
    .map(([binary]) => binary);
  if (missing.length === 0) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but ${missing.join(', ')} is not on PATH`);
  const reason = `skipped: no ${missing.join(', ')} on PATH (${install}; CI runs these)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}
