/**
 * The README's shell, as a scripter meets it: every ```sh / ```bash / ```console block passes
 * shellcheck; the command synopsis names only commands and flags the CLI has; and the
 * snippets that can run here (a key from the CLI, REST and GraphQL creates, the metrics grep,
 * the nightly CSV export) run as written against a live gateway, only the port changed.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../src/cli/cli';
import { createProcessDatabase } from '../support/database';
import { cleanEnv, startServer, type RunningServer } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const ROOT = path.resolve(__dirname, '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const tools = toolsInstalled({ shellcheck: ['--version'], bash: ['--version'], jq: ['--version'], curl: ['--version'] }, 'apt-get install -y shellcheck jq curl');

interface Block {
  lang: string;
  line: number;
  text: string;
}

/** Every fenced block, with the README line of its opening fence. */
function blocks(): Block[] {
  const found: Block[] = [];
  let open: Block | undefined;
  README.split('\n').forEach((row, index) => {
    const fence = /^```(\S*)/.exec(row);
    if (fence && !open) open = { lang: fence[1] ?? '', line: index + 1, text: '' };
    else if (fence && open) {
      found.push(open);
      open = undefined;
    } else if (open) open.text += `${row}\n`;
  });
  return found;
}

const SHELL = new Set(['sh', 'bash', 'shell', 'console']);
/** A console block's commands are its `$ ` lines. */
const script = (block: Block) =>
  block.lang === 'console' ? block.text.split('\n').filter((row) => row.startsWith('$ ')).map((row) => row.slice(2)).join('\n') : block.text;
const shellBlock = (containing: string): string => {
  const block = blocks().find((candidate) => SHELL.has(candidate.lang) && candidate.text.includes(containing));
  if (!block) throw new Error(`no shell block in README.md contains ${containing}`);
  return script(block);
};

describe.skipIf(!tools.up)(`the README's shell snippets ${tools.reason}`, () => {
  it('each passes shellcheck', () => {
    const shell = blocks().filter((block) => SHELL.has(block.lang));
    expect(shell.length).toBeGreaterThan(8);
    const findings = shell.flatMap((block) => {
      // SC2034: a snippet sets a variable (KEY) for the ones after it. SC2016: GraphQL's `$input`
      // inside single quotes is meant literally.
      const run = spawnSync('shellcheck', ['--shell=bash', '--exclude=SC2034,SC2016', '--format=gcc', '-'], { input: script(block), encoding: 'utf8' });
      return run.stdout.split('\n').filter(Boolean).map((finding) => `README.md:${block.line} (\`\`\`${block.lang}) ${finding.replace(/^-:/, 'line ')}`);
    });
    expect(findings).toStrictEqual([]);
  });
});

describe("the README's command synopsis", () => {
  const leaves = (command: Command, prefix: string[] = []): [string, Command][] =>
    command.commands.length === 0
      ? [[prefix.join(' '), command]]
      : command.commands.filter((sub) => sub.name() !== 'help').flatMap((sub) => leaves(sub, [...prefix, sub.name()]));

  it('names every command the CLI has, and only flags that command takes', () => {
    const synopsis = blocks().find((block) => block.text.startsWith('npx order-gateway --version\n'));
    expect(synopsis, 'the block of `npx order-gateway …` lines under "Command line"').toBeDefined();
    const program = buildCli(() => {}, () => {}, {});
    const commands = new Map(leaves(program));
    const named = new Set<string>();
    for (const row of synopsis!.text.split('\n').filter(Boolean)) {
      const words = row.replace(/#.*/, '').trim().split(/\s+/).slice(2);
      const name = words.filter((word, i) => words.slice(0, i + 1).every((w) => /^[a-z][a-z-]*$/.test(w))).join(' ');
      const flags = [...row.replace(/#.*/, '').matchAll(/--[a-z-]+/g)].map((match) => match[0]).filter((flag) => flag !== '--help');
      const command = name === '' ? program : commands.get(name);
      expect(command, `README: ${row}`).toBeDefined();
      named.add(name);
      const known = command!.options.map((option) => option.long);
      for (const flag of flags) expect(known, `README: ${row}`).toContain(flag);
    }
    expect([...commands.keys()].filter((name) => !named.has(name))).toStrictEqual([]);
  });
});

describe.skipIf(!tools.up)(`the README's shell snippets against a live gateway ${tools.reason}`, { timeout: 240_000 }, () => {
  let bin: string;
  let env: Record<string, string>;
  let cleanup: () => Promise<void> = async () => {};
  let server: RunningServer | undefined;
  let key = '';

  /** Runs a README snippet in bash, with `npx order-gateway` the command from source and the gateway's port in its URLs. */
  function bash(snippet: string, extra: Record<string, string> = {}, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const text = server ? snippet.replaceAll('http://127.0.0.1:3000', server.url) : snippet;
    const child = spawn('bash', ['-c', `npx() { if [ "$1" = order-gateway ]; then shift; order-gateway "$@"; else command npx "$@"; fi; }\n${text}`, 'snippet', ...args], {
      cwd: ROOT,
      env: cleanEnv({ ...env, PATH: `${bin}:${process.env.PATH}`, KEY: key, ...extra }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  beforeAll(async () => {
    ({ env: env, cleanup } = await createProcessDatabase('og-readme-shell-'));
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'og-readme-bin-'));
    const command = [process.execPath, '-r', require.resolve('@swc-node/register'), path.join(ROOT, 'src/cli/cli.ts')];
    fs.writeFileSync(path.join(bin, 'order-gateway'), `#!/bin/sh\nexec ${command.map((part) => `'${part}'`).join(' ')} "$@"\n`, { mode: 0o755 });
    // "Calling the API": the key, made while the server is stopped (the embedded database is one process's).
    const made = await bash(`set -euo pipefail\n${shellBlock('apikey create --workspace default --json')}\nprintf '%s' "$KEY"`);
    expect(made.code, made.stderr).toBe(0);
    key = made.stdout;
    expect(key).toMatch(/^ogk_/);
    // Development, as the README's quick start: /metrics is open on the API's port.
    server = await startServer({ ...env, NODE_ENV: 'development', METRICS_TOKEN: '' });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await cleanup();
    if (bin) fs.rmSync(bin, { recursive: true, force: true });
  });

  it('the REST and GraphQL creates answer the order, and the metrics grep finds the count', async () => {
    const rest = await bash(shellBlock('curl -s -X POST http://127.0.0.1:3000/api/orders'));
    expect(rest.code, rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ success: true, data: { order_number: expect.stringMatching(/^ORD-\d{4}-\d{4}-001$/), total: 227 } });
    const graphql = await bash(shellBlock('curl -s -X POST http://127.0.0.1:3000/graphql'));
    expect(graphql.code, graphql.stderr).toBe(0);
    expect(JSON.parse(graphql.stdout)).toMatchObject({ data: { createOrder: { order: { total: '198.00', status: 'PENDING' }, userErrors: [] } } });
    const metrics = await bash(`set -o pipefail\n${shellBlock('/metrics | grep orders_created_total')}`);
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toMatch(/^orders_created_total\{transport="rest"\} 1$/m);
  });

  it("the nightly export lists each of the day's orders exactly once, as CSV, while orders are being created", async () => {
    const create = async (i: number) => {
      const res = await fetch(`${server!.url}/api/orders`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ customer_id: `night_${i}`, items: [{ product_id: 'p', quantity: 1, price: '12.34' }], total: '12.34' }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { data: { id: string; created_at: string } }).data;
    };
    const before: { id: string; created_at: string }[] = [];
    // Two at a time: CREATES_PER_WORKSPACE, past which a busy machine's creates wait and may get 503.
    for (let batch = 0; batch < 125; batch++) before.push(...(await Promise.all([create(batch * 2), create(batch * 2 + 1)])));
    const day = before[0].created_at.slice(0, 10);
    // The workspace's zone is UTC (apikey create made it): the day of every order here, unless the run straddles midnight.
    expect(before.every((order) => order.created_at.startsWith(day))).toBe(true);

    let creating = true;
    let during = 0;
    const creator = (async () => {
      while (creating) await create(1000 + during++);
    })();
    const exported = await bash(shellBlock('export-day.sh YYYY-MM-DD'), { ORDER_GATEWAY_URL: server!.url, ORDER_GATEWAY_KEY: key }, [day]);
    creating = false;
    await creator;
    expect(during, 'orders were created while the export ran').toBeGreaterThan(0);

    expect(exported.code, exported.stderr).toBe(0);
    const [header, ...rows] = exported.stdout.trimEnd().split('\n');
    expect(header).toBe('id,order_number,customer_id,status,items_count,total,currency,created_at');
    const ids = rows.map((row) => JSON.parse(`[${row}]`)[0] as string);
    expect(ids.length - new Set(ids).size, 'rows listed twice').toBe(0);
    expect(before.filter((order) => !ids.includes(order.id)).map((order) => order.id), 'orders the export missed').toStrictEqual([]);
    const sample = rows.find((row) => row.startsWith(`"${before[0].id}"`));
    expect(sample).toMatch(new RegExp(`^"order_\\w+","ORD-${day.slice(0, 4)}-${day.slice(5, 7)}${day.slice(8)}-\\d{3,}","night_0","pending",1,12\\.34,"USD","${day}T[\\d:]{8}Z"$`));
  });
});
