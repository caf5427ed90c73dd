/**
 * `serve` outside development: no key is ever made or printed, and /metrics
 * is never left open on the API's port. Always on the embedded database (the
 * development key only ever existed there).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startServer } from '../support/processes';

const dirs: string[] = [];
function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-prod-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('NODE_ENV=production', () => {
  it('serve on a new embedded database creates no workspace and no key, prints none, and keeps /metrics off the API port', async () => {
    const dataDir = tempDataDir();
    // A separate METRICS_PORT instead of a token is enough to start.
    const server = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'production', METRICS_TOKEN: '', METRICS_PORT: '0' });
    let output: string;
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      output = server.output();
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(output).not.toMatch(/ogk_/);
    expect(fs.existsSync(path.join(dataDir, 'development-key'))).toBe(false);
    expect(await runCli(['apikey', 'list', '--workspace', 'default'], { DATA_DIR: dataDir })).toMatchObject({
      code: 1,
      stderr: `order-gateway: using the embedded database in ${dataDir} (DATA_DIR)\norder-gateway: Workspace "default" not found\n`,
    });
  });

  it('serve refuses to start with neither METRICS_TOKEN nor METRICS_PORT, saying which to set', async () => {
    const dataDir = tempDataDir();
    const result = await runCli(['serve'], { DATA_DIR: dataDir, NODE_ENV: 'production', PORT: '0', METRICS_TOKEN: '', METRICS_PORT: '' });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('NODE_ENV=production needs METRICS_TOKEN');
    expect(result.stderr).toContain('or METRICS_PORT');
    // It stopped before opening the database.
    expect(fs.existsSync(path.join(dataDir, 'pgdata'))).toBe(false);
  });
});
