/**
 * A CLI command loads only what it needs (issue 12.4): `apikey list` and
 * `workspace create` open MikroORM and never load the HTTP stack (Fastify,
 * Apollo, TypeGraphQL, GraphQL), which only `serve` needs. How long a command
 * takes is measured by `npm run bench:cli`, not asserted here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli } from '../support/processes';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-cli-lazy-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HTTP_STACK = ['/node_modules/fastify/', '/node_modules/@apollo/server/', '/node_modules/type-graphql/', '/node_modules/graphql/', '/src/app/app.ts', '/src/main.ts'];

it('workspace create and apikey list load MikroORM and none of the HTTP stack', { timeout: 60_000 }, async () => {
  const record = path.join(dir, 'modules.txt');
  const preload = path.resolve(__dirname, '../fixtures/cli/record-modules.js');
  const env = { DATA_DIR: path.join(dir, 'data'), RECORD_MODULES: record, NODE_OPTIONS: `--require ${preload}` };
  for (const args of [['workspace', 'create', 'lazy'], ['apikey', 'list', '--workspace', 'lazy']]) {
    const result = await runCli(args, env);
    expect(result.code, result.stderr).toBe(0);
    const modules = fs.readFileSync(record, 'utf8').split('\n');
    expect(modules.some((file) => file.includes('/node_modules/@mikro-orm/core/'))).toBe(true);
    expect(HTTP_STACK.filter((part) => modules.some((file) => file.includes(part)))).toStrictEqual([]);
  }
});
