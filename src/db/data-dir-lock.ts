/**
 * The embedded database belongs to one process at a time: two PGlite
 * instances on the same files corrupt them. The holder keeps an exclusive
 * advisory lock (an open-file-description lock on Linux, `flock` on macOS,
 * `LockFileEx` on Windows, through fs-native-extensions) on
 * `DATA_DIR/gateway.lock` for as long as it runs.
 *
 * The operating system releases the lock when the process ends, however it
 * ends (`kill -9` included), so no stale lock is ever left to take over and
 * nothing depends on process ids: a restarted container that is pid 1 again,
 * or a lock file naming a pid that some other process now has, never blocks a
 * start. Taking the lock is one system call, so of any number of simultaneous
 * starts exactly one wins. The file itself stays (deleting it would let a new
 * file be locked while an old one still is); it holds the last holder's pid,
 * which only the refusal message reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tryLock, unlock } from 'fs-native-extensions';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

export interface DataDirLock {
  release(): void;
}

export const LOCK_FILE = 'gateway.lock';

/** The pid the holder wrote, for the message; the lock itself is what counts. */
function holderOf(file: string): number | undefined {
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when process `pid` has a file under `dir` open; false when that cannot be told (Linux's /proc only). */
function hasFilesOpenUnder(pid: number, dir: string): boolean {
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    const prefix = fs.realpathSync(dir) + path.sep;
    const fds = `/proc/${pid}/fd`;
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
    return fs.readdirSync(fds).some((entry) => {
      try {
        // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
        return fs.readlinkSync(path.join(fds, entry)).startsWith(prefix);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  // Opened without truncating: the holder's pid stays readable until we hold the lock ourselves.
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
  const fd = fs.openSync(file, 'a+');
  let locked = false;
  try {
    locked = tryLock(fd);
    if (!locked) {
      const holder = holderOf(file);
      const who =
        holder === undefined
          ? 'another process'
          : `process ${holder}${holder === process.pid ? ' (this one)' : ''}`;
      throw new DataDirLockedError(
        `The embedded database in ${dataDir} is in use by ${who}. Opening it twice corrupts it: stop that process ` +
          `first, or point DATA_DIR at another folder, or use DATABASE_URL for a database shared by several processes.`,
      );
    }
    // Versions before this lock (fc49ae5) only wrote their pid here and kept no OS lock, so a
    // server of such a version that is still running holds nothing we would have seen: it is
    // the process the file names, alive, with the database's files open (an unrelated process
    // that got a dead holder's pid has none of them open, and does not block).
    const legacy = holderOf(file);
    if (
      legacy !== undefined &&
      legacy !== process.pid &&
      hasFilesOpenUnder(legacy, path.join(dataDir, 'pgdata'))
    ) {
      throw new DataDirLockedError(
        `The embedded database in ${dataDir} is in use by process ${legacy}, a gateway of an older version ` +
          `(it keeps only ${LOCK_FILE}). Opening it twice corrupts it: stop that process first.`,
      );
    }
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `${process.pid}\n`);
  } catch (error) {
    if (locked) unlock(fd);
    fs.closeSync(fd);
    throw error;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        unlock(fd);
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}
