import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/processes';
import { createServerDatabase, usingRealPostgres } from '../support/database';

/** The CLI runs against the same database selection as the server: DATA_DIR here, DATABASE_URL on the CI's second pass. */
let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  if (usingRealPostgres) {
    const server = await createServerDatabase();
    env = { DATABASE_URL: server.url };
    cleanup = server.drop;
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-cli-'));
    env = { DATA_DIR: dir };
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
  }
});
afterAll(() => cleanup());

describe('order-gateway CLI', () => {
  it('creates a key and its workspace, prints one JSON line, lists it by prefix, and revokes it', async () => {
    const created = await runCli(['apikey', 'create', '--workspace', 'shop', '--name', 'ci', '--json'], env);
    expect(created.code).toBe(0);
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
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked ${key.id}\n` });
    const after = await runCli(['apikey', 'list', '--workspace', 'shop', '--json'], env);
    expect(JSON.parse(after.stdout.trim())).toMatchObject({ id: key.id, status: 'revoked', revokedAt: expect.any(String) });
  });

  it('creates a workspace with a time zone, and refuses a bad zone, a bad slug and a duplicate by name', async () => {
    const ok = await runCli(['workspace', 'create', 'jakarta-store', '--timezone', 'Asia/Jakarta'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^Created workspace jakarta-store \(ws_[0-9A-Z]{26}, time zone Asia\/Jakarta\)\n$/);

    const zone = await runCli(['workspace', 'create', 'x-store', '--timezone', 'Mars/Olympus'], env);
    expect(zone).toMatchObject({ code: 1, stderr: 'order-gateway: timezone must be an IANA time zone such as Asia/Jakarta\n' });
    const slug = await runCli(['workspace', 'create', 'Bad Slug'], env);
    expect(slug.code).toBe(1);
    expect(slug.stderr).toContain('slug must be 1 to 63 lower-case letters');
    const duplicate = await runCli(['workspace', 'create', 'jakarta-store'], env);
    expect(duplicate).toMatchObject({ code: 1, stderr: 'order-gateway: slug "jakarta-store" is already taken\n' });
  });

  it('says what is wrong for an unknown key id, an unknown workspace and a bad variable', async () => {
    expect(await runCli(['apikey', 'revoke', 'key_nope'], env)).toMatchObject({ code: 1, stderr: 'order-gateway: API key key_nope not found\n' });
    expect(await runCli(['apikey', 'list', '--workspace', 'ghost'], env)).toMatchObject({
      code: 1,
      stderr: 'order-gateway: Workspace "ghost" not found\n',
    });
    expect(await runCli(['migrate'], { ...env, MIGRATE_ON_START: 'sometimes' })).toMatchObject({
      code: 1,
      stderr: 'order-gateway: MIGRATE_ON_START must be true or false, got "sometimes"\n',
    });
  });
});
