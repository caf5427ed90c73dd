/**
 * The command as a shell script meets it: real bash (`set -euo pipefail`), real jq, pipes.
 * Exit codes, stdout for data and stderr for the rest, --help everywhere, unknown flags,
 * no colour, `… | head -1`, and numbers given from shell variables.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessDatabase } from '../support/database';
import { cleanEnv } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const ROOT = path.resolve(__dirname, '../..');
const tools = toolsInstalled({ bash: ['--version'], jq: ['--version'] }, 'apt-get install -y jq');
const TIMEOUT = 120_000;

let env: Record<string, string>;
let cleanup: () => Promise<void> = async () => {};
let bin: string;

/** Runs `script` in bash with `set -euo pipefail`, `order-gateway` on PATH (the command, from source). */
function bash(script: string, extra: Record<string, string> = {}) {
  const run = spawnSync('bash', ['-c', `set -euo pipefail\n${script}`], {
    cwd: ROOT,
    env: cleanEnv({ ...env, PATH: `${bin}:${process.env.PATH}`, ...extra }),
    encoding: 'utf8',
    timeout: TIMEOUT,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  if (!tools.up) return;
  ({ env: env, cleanup } = await createProcessDatabase('og-cli-scripting-'));
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'og-cli-bin-'));
  const command = [process.execPath, '-r', require.resolve('@swc-node/register'), path.join(ROOT, 'src/cli/cli.ts')];
  fs.writeFileSync(path.join(bin, 'order-gateway'), `#!/bin/sh\nexec ${command.map((part) => `'${part}'`).join(' ')} "$@"\n`, { mode: 0o755 });
  expect(bash('order-gateway workspace create shop >/dev/null').code).toBe(0);
}, TIMEOUT);
afterAll(async () => {
  await cleanup();
  if (bin) fs.rmSync(bin, { recursive: true, force: true });
});

describe.skipIf(!tools.up)(`the command in a bash script ${tools.reason}`, { timeout: TIMEOUT }, () => {
  it('a reader that stops early (`… | head -1`) gets its line; the command prints no stack and exits 0', () => {
    // The reader closes the pipe before the command writes, as head does after its line.
    const run = bash(`order-gateway workspace list --json | (exec 0<&-; sleep 3)\necho "exit \${PIPESTATUS[0]}"`);
    expect(run.stderr).not.toMatch(/EPIPE|Error|^\s+at /m);
    expect(run.stdout).toBe('exit 0\n');
    expect(run.code).toBe(0);
  });

  it('--help on every command and sub-command exits 0 and prints to stdout alone', () => {
    const commands = ['', 'serve', 'migrate', 'workspace', 'workspace create', 'workspace list', 'apikey', 'apikey create', 'apikey list', 'apikey revoke', 'webhook', 'webhook create', 'webhook list', 'webhook update', 'webhook rotate-secret', 'webhook deliveries', 'webhook redeliver', 'webhook delete'];
    const script = commands.map((command) => `order-gateway ${command} --help | head -1`).join('\n');
    const run = bash(script);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.split('\n').filter(Boolean)).toStrictEqual(commands.map((command) => expect.stringMatching(new RegExp(`^Usage: order-gateway ${command}`.trimEnd()))));
  });

  it('an unknown flag, a missing argument and an unknown command exit 64 (EX_USAGE) with the reason on stderr and nothing on stdout', () => {
    for (const command of ['workspace list --jsn', 'apikey create', 'apikey revoke', 'nosuch', 'webhook list --workspace shop --bogus']) {
      const run = bash(`order-gateway ${command}`);
      expect(run.code, command).toBe(64);
      expect(run.stdout, command).toBe('');
      expect(run.stderr, command).toMatch(/^error: /);
    }
  });

  it('each failure a script meets exits with one line on stderr and a code that says whether to retry: a taken slug 65, an unknown workspace or key 1, a database that is down 75, a bad setting 78', () => {
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['workspace create shop', {}, 65, /^order-gateway: slug "shop" is already taken$/],
      ['apikey list --workspace ghost', {}, 1, /^order-gateway: Workspace "ghost" not found$/],
      ['apikey revoke key_01M95HPYRV4ZCM4PE3GF4RJFR3', {}, 1, /^order-gateway: API key key_01M95HPYRV4ZCM4PE3GF4RJFR3 not found$/],
      ['workspace list', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' }, 75, /connection refused at 127\.0\.0\.1:1/],
      ['workspace list', { MIGRATE_ON_START: 'sometimes' }, 78, /^order-gateway: MIGRATE_ON_START must be true or false, got "sometimes"$/],
    ];
    for (const [command, extra, code, message] of cases) {
      const run = bash(`order-gateway ${command}`, extra);
      expect(run.code, command).toBe(code);
      expect(run.stdout, command).toBe('');
      const lines = run.stderr.split('\n').filter((line) => line && !line.startsWith('order-gateway: using '));
      expect(lines, command).toStrictEqual([expect.stringMatching(message)]);
    }
  });

  it('--json output is one object per line that jq reads, and nothing on stdout is colour', () => {
    const run = bash(
      `key=$(order-gateway apikey create --workspace shop --name nightly --json | jq -er .key)
       [[ $key == ogk_* ]]
       order-gateway apikey list --workspace shop --json | jq -ec 'select(.name == "nightly") | {status}'
       order-gateway workspace list --json | jq -er '.slug'`,
      { FORCE_COLOR: '1' },
    );
    expect(run).toMatchObject({ code: 0, stdout: '{"status":"active"}\nshop\n' });
    expect(run.stderr).not.toContain('\u001b[');
  });

  it('a number from an empty shell variable is refused, not read as 0 (the old webhook secret would stop signing at once)', () => {
    const run = bash(
      `id=$(order-gateway webhook create --workspace shop --url http://127.0.0.1:9/hooks --json | jq -er .id)
       grace=""
       order-gateway webhook rotate-secret "$id" --previous-secret-valid-for "$grace" --json || echo "rotate-secret exit $?"
       order-gateway webhook deliveries "$id" --first " " || echo "deliveries exit $?"`,
      { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' },
    );
    expect(run).toMatchObject({ code: 0, stdout: 'rotate-secret exit 65\ndeliveries exit 65\n' });
    expect(run.stderr).toMatch(/^order-gateway: previous_secret_valid_for_seconds must be a whole number of seconds from 0 to \d+$/m);
    expect(run.stderr).toMatch(/^order-gateway: first must be between 1 and 100$/m);
  });

  it('workspace create --json prints the workspace as one JSON line, so a setup script can keep its id', () => {
    const run = bash(`order-gateway workspace create jkt --timezone asia/jakarta --json | jq -c '{slug, timeZone, id: (.id | test("^ws_"))}'`);
    expect(run).toMatchObject({ code: 0, stdout: '{"slug":"jkt","timeZone":"Asia/Jakarta","id":true}\n' });
  });
});
