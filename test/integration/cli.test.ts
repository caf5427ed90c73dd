import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/processes';
import { createServerDatabase, usingRealPostgres } from '../support/database';

/** The CLI runs against the same database selection as the server: DATA_DIR here, DATABASE_URL on the CI's second pass. */
let env: Record<string, string>;
let cleanup: () => Promise<void>;
/** The note every command prints on stderr about the (non-default) database it opened. */
let using: string;

beforeAll(async () => {
  if (usingRealPostgres) {
    const server = await createServerDatabase();
    env = { DATABASE_URL: server.url };
    using = `order-gateway: using PostgreSQL at ${server.url} (DATABASE_URL)\n`;
    cleanup = server.drop;
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-cli-'));
    env = { DATA_DIR: dir };
    using = `order-gateway: using the embedded database in ${dir} (DATA_DIR)\n`;
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
  }
});
afterAll(() => cleanup());

// Each command is a process of its own, compiled from source: allow for a busy machine.
describe('order-gateway CLI', { timeout: 60_000 }, () => {
  it('creates a key and its workspace, prints one JSON line, lists it by prefix, and revokes it', async () => {
    const created = await runCli(['apikey', 'create', '--workspace', 'shop', '--name', 'ci', '--json'], env);
    expect(created.code).toBe(0);
    // The workspace did not exist: the command says it created it (on stderr, so stdout stays one JSON line).
    expect(created.stderr).toBe(`${using}order-gateway: Created workspace shop (time zone UTC; it did not exist).\n`);
    const lines = created.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const key = JSON.parse(lines[0]);
    expect(Object.keys(key)).toStrictEqual(['id', 'key', 'workspace']);
    expect(key).toMatchObject({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(/^ogk_[A-Za-z0-9_-]{43}$/), workspace: 'shop' });

    const listed = await runCli(['apikey', 'list', '--workspace', 'shop'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${key.id}  ${key.key.slice(0, 12)}…  active  ci`);
    expect(listed.stdout).not.toContain(key.key);

    const revoked = await runCli(['apikey', 'revoke', key.id], env);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked ${key.id}\n`, stderr: using });
    const after = await runCli(['apikey', 'list', '--workspace', 'shop', '--json'], env);
    expect(JSON.parse(after.stdout.trim())).toMatchObject({ id: key.id, status: 'revoked', revokedAt: expect.any(String) });
  });

  it('says when apikey create made the workspace, and lists workspaces with their active keys', async () => {
    // A second key for the existing workspace (the first test made it), in words: no workspace note this time.
    const second = await runCli(['apikey', 'create', '--workspace', 'shop'], env);
    expect(second.stdout).toMatch(/^Created API key key_\w+ for workspace shop\.\nKey \(shown only this once\): ogk_/);
    const third = await runCli(['apikey', 'create', '--workspace', 'new-shop'], env);
    expect(third.stdout).toMatch(/^Created workspace new-shop \(time zone UTC; it did not exist\)\.\nCreated API key /);
    const workspaces = await runCli(['workspace', 'list'], env);
    expect(workspaces.stdout).toMatch(/^shop {2}ws_\w{26} {2}UTC {2}1 active key\nnew-shop {2}ws_\w{26} {2}UTC {2}1 active key\n$/);
  });

  it('creates a workspace with a time zone, and refuses a bad zone, a bad slug and a duplicate by name', async () => {
    const ok = await runCli(['workspace', 'create', 'jakarta-store', '--timezone', 'Asia/Jakarta'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^Created workspace jakarta-store \(ws_[0-9A-Z]{26}, time zone Asia\/Jakarta\)\n$/);

    const zone = await runCli(['workspace', 'create', 'x-store', '--timezone', 'Mars/Olympus'], env);
    expect(zone).toMatchObject({ code: 65, stderr: `${using}order-gateway: timezone must be an IANA time zone such as Asia/Jakarta\n` });
    const slug = await runCli(['workspace', 'create', 'Bad Slug'], env);
    expect(slug.code).toBe(65);
    expect(slug.stderr).toContain('slug must be 1 to 63 lower-case letters');
    const duplicate = await runCli(['workspace', 'create', 'jakarta-store'], env);
    expect(duplicate).toMatchObject({ code: 65, stderr: `${using}order-gateway: slug "jakarta-store" is already taken\n` });
  });

  it('says what is wrong for an unknown key id, an unknown workspace and a bad variable', async () => {
    expect(await runCli(['apikey', 'revoke', 'key_nope'], env)).toMatchObject({ code: 1, stderr: `${using}order-gateway: API key key_nope not found\n` });
    expect(await runCli(['apikey', 'list', '--workspace', 'ghost'], env)).toMatchObject({
      code: 1,
      stderr: `${using}order-gateway: Workspace "ghost" not found\n`,
    });
    // A label longer than its column is named, and the missing workspace is not made for a key that was refused.
    expect(await runCli(['apikey', 'create', '--workspace', 'long-label', '--name', 'n'.repeat(201)], env)).toMatchObject({
      code: 65,
      stdout: '',
      stderr: `${using}order-gateway: name must be at most 200 characters\n`,
    });
    expect((await runCli(['workspace', 'list'], env)).stdout).not.toContain('long-label');
    expect(await runCli(['migrate'], { ...env, MIGRATE_ON_START: 'sometimes' })).toMatchObject({
      code: 78,
      stderr: 'order-gateway: MIGRATE_ON_START must be true or false, got "sometimes"\n',
    });
  });
});

describe('a database that is not migrated, with MIGRATE_ON_START=false', { timeout: 90_000 }, () => {
  it('refuses with one line that says to run migrate, and works once migrate has run', async () => {
    let fresh: Record<string, string>;
    let usingFresh: string;
    let drop: () => Promise<void>;
    if (usingRealPostgres) {
      const server = await createServerDatabase();
      fresh = { DATABASE_URL: server.url };
      usingFresh = `order-gateway: using PostgreSQL at ${server.url} (DATABASE_URL)\n`;
      drop = server.drop;
    } else {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-cli-unmigrated-'));
      fresh = { DATA_DIR: dir };
      usingFresh = `order-gateway: using the embedded database in ${dir} (DATA_DIR)\n`;
      drop = async () => fs.rmSync(dir, { recursive: true, force: true });
    }
    try {
      const env = { ...fresh, MIGRATE_ON_START: 'false' };
      for (const args of [['workspace', 'list'], ['apikey', 'create', '--workspace', 'shop'], ['webhook', 'list', '--workspace', 'shop']]) {
        const result = await runCli(args, env);
        expect(result.code).toBe(78);
        expect(result.stdout).toBe('');
        expect(result.stderr.startsWith(usingFresh)).toBe(true);
        expect(result.stderr.slice(usingFresh.length)).toMatch(
          /^order-gateway: migrations pending: Migration\w+(, Migration\w+)* \(run `order-gateway migrate`; MIGRATE_ON_START=false skips it before each command\)\n$/,
        );
      }
      expect((await runCli(['migrate'], env)).code).toBe(0);
      expect(await runCli(['workspace', 'list'], env)).toMatchObject({ code: 0, stderr: usingFresh });
    } finally {
      await drop();
    }
  });
});

describe('the command itself', () => {
  it('--version prints the package version; serve --help lists every environment variable with its default', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    expect(await runCli(['--version'], {})).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const help = await runCli(['serve', '--help'], {});
    expect(help.code).toBe(0);
    for (const name of ['PORT', 'HOST', 'DATABASE_URL', 'DATA_DIR', 'MIGRATE_ON_START', 'METRICS_TOKEN', 'REDIS_URL', 'TRUST_PROXY']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
    expect(help.stdout).toMatch(/^ {2}PORT +HTTP port \(default: 3000\)$/m);
  });

  it('an unknown option or a missing argument is a usage error: exit 64 (EX_USAGE), with the help after the error', async () => {
    const unknown = await runCli(['workspace', 'list', '--colour'], {});
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain("error: unknown option '--colour'");
    const missing = await runCli(['apikey', 'revoke'], {});
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("error: missing required argument 'id'");
  });

  it('apikey --help does not promise more than the key cache keeps: a revoked key is refused within API_KEY_CACHE_TTL_MS', async () => {
    const help = await runCli(['apikey', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}revoke <id> +revoke a key; servers refuse it within API_KEY_CACHE_TTL_MS$/m);
  });

  it('run where there is no ./data, without DATA_DIR or DATABASE_URL, refuses and says where it looked (serve would create it)', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'og-nodata-'));
    try {
      const result = await runCli(['apikey', 'list', '--workspace', 'default'], {}, 30_000, folder);
      expect(result.code).toBe(78);
      expect(result.stderr).toBe(
        `order-gateway: no database to open: DATABASE_URL and DATA_DIR are not set, and there is no ${path.join(fs.realpathSync(folder), 'data')}. ` +
          'Run this in the folder where `order-gateway serve` keeps its data, or set DATA_DIR (the embedded database) or DATABASE_URL (PostgreSQL).\n',
      );
      expect(fs.readdirSync(folder)).toStrictEqual([]);
      // With ./data there, it is the default database and goes unnamed.
      fs.mkdirSync(path.join(folder, 'data'));
      expect(await runCli(['workspace', 'list'], {}, 30_000, folder)).toMatchObject({ code: 0, stderr: '' });
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
