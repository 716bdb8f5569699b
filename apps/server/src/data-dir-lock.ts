import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { QuarryError } from '@quarry/db';

/**
 * The embedded database is a single process's files: two processes opening one data directory
 * would corrupt it. A lock file next to the directory holds the owner's pid; a lock whose process
 * is gone is stale and taken over.
 */
export interface DataDirLock {
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  const path = `${dataDir}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isSafeInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new QuarryError(
          'DATABASE_UNAVAILABLE',
          `the embedded database in ${dataDir} is in use by process ${owner} (a running Quarry server or CLI). ` +
            'Stop that process, or talk to the running server with --url instead of opening the directory.',
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new QuarryError('DATABASE_UNAVAILABLE', `could not lock ${dataDir} (lock file ${path})`);
}
