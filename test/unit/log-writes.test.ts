import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnTracked } from '../support/processes';

const ROOT = path.resolve(__dirname, '../..');

/**
 * A child logging through the production destination (`loggerOptions` with
 * NODE_ENV=production), which holds lines until it has about 4 KB of them:
 * it logs one line, then `N` lines for each number written to its stdin,
 * and one last line and exits when its stdin ends.
 */
const CHILD = `
const pino = require('pino');
const { loggerOptions } = require('./src/observability/logger.ts');
const { loadConfig } = require('./src/config/config.ts');
const { stream, ...options } = loggerOptions(loadConfig({ NODE_ENV: 'production' }));
const log = pino(options, stream);
log.info('quiet line');
process.stderr.write(String(6 * 7) + ' logged');
process.stdin.on('data', (text) => { for (let i = 0; i < Number(text); i++) log.info({ i }, 'busy line'); });
process.stdin.on('end', () => { log.info('last line'); process.exit(0); });
`;

describe('production log lines on stdout', () => {
  it('reach stdout within a second when the server is quiet, all of a burst arrive, and the last ones at exit', async () => {
    const child = spawnTracked(process.execPath, ['-r', require.resolve('@swc-node/register'), '-e', CHILD], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Tracked: the test's hooks stop it if the test fails half-way (test/support/setup.ts).
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let output = '';
    let errors = '';
    const lines = (message: string) =>
      output.split('\n').filter((line) => line.includes(`"msg":"${message}"`));
    const arrived = (test: () => boolean, withinMs: number) =>
      new Promise<number>((resolve, reject) => {
        const start = Date.now();
        const check = () => {
          if (test()) return resolve(Date.now() - start);
          if (Date.now() - start > withinMs)
            return reject(new Error(`not on stdout after ${withinMs} ms: ${output}`));
          setTimeout(check, 10);
        };
        check();
      });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    // The child needs a moment to start; from when it logged, its line is held at most a quarter of a second.
    await arrived(() => errors.includes('42 logged'), 15_000);
    await arrived(() => lines('quiet line').length === 1, 1000);
    child.stdin?.write('300');
    await arrived(() => lines('busy line').length === 300, 1000);
    const busy = lines('busy line').map((line) => (JSON.parse(line) as { i: number }).i);
    expect(busy).toEqual([...Array(300).keys()]);
    expect(lines('last line')).toHaveLength(0);
    child.stdin?.end();
    expect(await exited).toBe(0);
    expect(lines('last line')).toHaveLength(1);
  }, 30_000);
});
