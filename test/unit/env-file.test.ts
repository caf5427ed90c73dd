import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnvFile } from '../../src/config/env-file';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-envfile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, '.env'), '# a comment\nPORT=4001\nHOST="0.0.0.0"\nLOG_LEVEL=debug\n');
fs.writeFileSync(path.join(dir, 'other.env'), 'PORT=4002\n');

describe('.env', () => {
  it('fills in what the environment does not set; the real environment wins', () => {
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn' };
    const loaded = loadEnvFile(env, dir);
    expect(env).toStrictEqual({ LOG_LEVEL: 'warn', PORT: '4001', HOST: '0.0.0.0' });
    expect({ ...loaded, applied: loaded.applied.sort() }).toStrictEqual({ file: path.join(dir, '.env'), applied: ['HOST', 'PORT'], overridden: ['LOG_LEVEL'] });
  });

  it('reads ENV_FILE instead, reads none with ENV_FILE=none, and names a missing ENV_FILE', () => {
    const other: NodeJS.ProcessEnv = { ENV_FILE: 'other.env' };
    loadEnvFile(other, dir);
    expect(other.PORT).toBe('4002');
    const none: NodeJS.ProcessEnv = { ENV_FILE: 'none' };
    expect(loadEnvFile(none, dir)).toStrictEqual({ applied: [], overridden: [] });
    expect(none).toStrictEqual({ ENV_FILE: 'none' });
    expect(() => loadEnvFile({ ENV_FILE: 'missing.env' }, dir)).toThrow(`ENV_FILE: cannot read ${path.join(dir, 'missing.env')}`);
  });

  it('is optional: no .env in the folder is no error', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(loadEnvFile(env, os.tmpdir() + '/og-no-such-folder')).toStrictEqual({ applied: [], overridden: [] });
  });
});
