/**
 * The embedded database belongs to one process at a time: two PGlite
 * instances on the same files corrupt them. The holder writes its pid into
 * `DATA_DIR/gateway.lock`; a second process refuses to start while that pid
 * is alive, and takes over a lock whose holder has died.
 */
import fs from 'node:fs';
import path from 'node:path';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

export interface DataDirLock {
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'gateway.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          fs.rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(holder) && isAlive(holder)) {
      throw new DataDirLockedError(
        `The embedded database in ${dataDir} is in use by process ${holder}` +
          `${holder === process.pid ? ' (this one)' : ''}. Opening it twice corrupts it: stop that process ` +
          `first, or point DATA_DIR at another folder, or use DATABASE_URL for a database shared by several processes.`,
      );
    }
    // The holder is gone (it crashed or was killed): its lock is stale.
    fs.rmSync(file, { force: true });
  }
  throw new DataDirLockedError(`Could not lock ${dataDir}; another process keeps taking it.`);
}
