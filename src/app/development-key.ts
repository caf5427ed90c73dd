import fs from 'node:fs';
import path from 'node:path';
import type { AuthService } from '../auth/auth.service';

export const DEVELOPMENT_KEY_FILE = 'development-key';

/**
 * First start on an empty embedded database: create the `default` workspace
 * and a development key, so a newcomer can call the API straight away. The
 * key is returned (to be printed once) and kept in `DATA_DIR/development-key`
 * (mode 600) for local tools; a server database never gets one.
 */
export async function ensureDevelopmentKey(auth: AuthService, dataDir: string): Promise<string | undefined> {
  if (await auth.hasAnyWorkspace()) return undefined;
  const created = await auth.createApiKey('default', 'development');
  fs.writeFileSync(path.join(dataDir, DEVELOPMENT_KEY_FILE), `${created.key}\n`, { mode: 0o600 });
  return created.key;
}

/** Addresses of this machine: the development key is only ever shown to a browser on it. */
export const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The development key in `dir`, or undefined when there is none (yet). */
export async function readDevelopmentKey(dir: string): Promise<string | undefined> {
  try {
    const key = (await fs.promises.readFile(path.join(dir, DEVELOPMENT_KEY_FILE), 'utf8')).trim();
    return key || undefined;
  } catch {
    return undefined;
  }
}
