import fs from 'node:fs';
import path from 'node:path';
import type { AuthService } from '../auth/auth.service';

export const DEVELOPMENT_KEY_FILE = 'development-key';

/** A development key made now; `notSaved` says why it could not be kept in its file. */
export interface DevelopmentKey {
  key: string;
  notSaved?: string;
}

const SAVE_FAILURES: Record<string, string> = {
  EISDIR: 'a folder is in the way',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
};

/**
 * First start on an empty embedded database: create the `default` workspace
 * and a development key, so a newcomer can call the API straight away. The
 * key is returned (to be printed once) and kept in `DATA_DIR/development-key`
 * (mode 600) for local tools; a server database never gets one. The key is in
 * the database before the file is written, so a file that cannot be written
 * must not lose it: the key is still returned, to be shown, with the reason
 * (a later start finds the workspace and makes no other).
 */
export async function ensureDevelopmentKey(auth: AuthService, dataDir: string): Promise<DevelopmentKey | undefined> {
  if (await auth.hasAnyWorkspace()) return undefined;
  const created = await auth.createApiKey('default', 'development');
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    fs.writeFileSync(path.join(dataDir, DEVELOPMENT_KEY_FILE), `${created.key}\n`, { mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return { key: created.key, notSaved: SAVE_FAILURES[code] ?? (error instanceof Error ? error.message : String(error)) };
  }
  return { key: created.key };
}

/** True when `dir` holds a development key file (a file, not something else by that name). */
export function hasDevelopmentKeyFile(dir: string): boolean {
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    return fs.statSync(path.join(dir, DEVELOPMENT_KEY_FILE)).isFile();
  } catch {
    return false;
  }
}

/** Addresses of this machine: the development key is only ever shown to a browser on it. */
export const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The host part of a Host header (`[::1]:3000` → `::1`, `localhost:3000` → `localhost`), lower-cased. */
function hostName(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return value.slice(1, end < 0 ? undefined : end);
  }
  return value.split(':', 1)[0] ?? '';
}

/** Names that always mean this machine: `localhost` (and `*.localhost`), 127.0.0.0/8, `::1`. */
function isLoopbackName(name: string): boolean {
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '::1' ||
    // eslint-disable-next-line security/detect-unsafe-regex -- linear: a fixed {3} repetition of groups that each start with a dot
    /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(name)
  );
}

/**
 * Headers a proxy or tunnel adds (nginx, HAProxy, ngrok, cloudflared, a CDN). A browser on this
 * machine talking to the server sends none of them; a request that carries one came through a
 * forwarder, whose own connection from 127.0.0.1 says nothing about where the browser is.
 */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

/**
 * True for a request that may be given the development key: from this machine, addressed
 * to it by a loopback name, and through no proxy. The name matters because of DNS rebinding: a page of another site
 * whose name is made to resolve to 127.0.0.1 reaches the server from this machine, and is
 * same-origin with what it loads, so it could read a key in the answer; its Host header still
 * carries its own name. The address is the connection's own, never `X-Forwarded-For` (which
 * `TRUST_PROXY` would believe), and a proxy or tunnel on this machine (a local nginx, `ngrok
 * --host-header=rewrite`) connects from 127.0.0.1 with a loopback Host on behalf of any browser
 * anywhere, so a request with a forwarding header is refused too.
 */
export function isLocalBrowser(request: {
  socket: { remoteAddress?: string | undefined };
  headers: Record<string, string | string[] | undefined>;
}): boolean {
  const host = request.headers.host;
  return (
    LOOPBACK.has(request.socket.remoteAddress ?? '') &&
    typeof host === 'string' &&
    isLoopbackName(hostName(host)) &&
    FORWARDING_HEADERS.every((name) => request.headers[name] === undefined)
  );
}

/** The development key in `dir`, or undefined when there is none (yet). */
export async function readDevelopmentKey(dir: string): Promise<string | undefined> {
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    const key = (await fs.promises.readFile(path.join(dir, DEVELOPMENT_KEY_FILE), 'utf8')).trim();
    return key || undefined;
  } catch {
    return undefined;
  }
}
