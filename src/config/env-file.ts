/**
 * `.env`: variables for a folder, as `.env.example` suggests. Read with Node's
 * own parser (`util.parseEnv`, the one behind `node --env-file`); a variable
 * already in the real environment is never replaced by the file.
 *
 * ENV_FILE names another file; `ENV_FILE=none` (or empty) reads none (the
 * tests do this, so a developer's .env never leaks into them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

export interface LoadedEnvFile {
  /** The file read, or undefined when there was none. */
  file?: string;
  /** Variables taken from the file (those the environment did not already set). */
  applied: string[];
  /** Variables in the file that the environment overrides. */
  overridden: string[];
}

export function loadEnvFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoadedEnvFile {
  const setting = env.ENV_FILE;
  if (setting !== undefined && ['', 'none'].includes(setting.trim())) return { applied: [], overridden: [] };
  const file = path.resolve(cwd, setting?.trim() || '.env');
  let text: string;
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    // Only a named file must exist; ./.env is optional.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && setting === undefined)
      return { applied: [], overridden: [] };
    throw new Error(`ENV_FILE: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const applied: string[] = [];
  const overridden: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) overridden.push(name);
    else {
      env[name] = value;
      applied.push(name);
    }
  }
  return { file, applied, overridden };
}
