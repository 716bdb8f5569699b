import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from './dependency-floors';
import { baseEnv, scratchDir } from './harness';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/**
 * `npm start` as a person runs it from the repository root: npm, the start script and the server,
 * in a process group of their own as a terminal's foreground job is, on a scratch embedded
 * database. `--serve-only` skips the install and the dashboard build, which end before the server
 * starts and take no part in stopping it.
 */
function npmStart() {
  const data = scratchDir('quarry-npm-start');
  const child = spawn('npm', ['start', '--', '--serve-only'], {
    cwd: repoRoot,
    detached: true,
    env: {
      ...baseEnv(),
      QUARRY_DATA_DIR: join(data.path, 'db'),
      QUARRY_DEMO: 'false',
      PORT: '0',
      HOST: '127.0.0.1',
      QUARRY_LOG_FORMAT: 'json',
      npm_config_update_notifier: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let onOutput = () => {};
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      onOutput();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null)
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    data.remove();
  });
  return {
    pid: child.pid ?? 0,
    output: () => output,
    exited,
    /** Resolves once the server logged `ready`; rejects if the chain exits first. */
    ready: new Promise<void>((resolve, reject) => {
      onOutput = () => {
        if (output.includes('"msg":"ready"')) resolve();
      };
      void exited.then(({ code }) =>
        reject(new Error(`npm start exited (${code}) before ready:\n${output}`)),
      );
    }),
  };
}

/** The log messages printed after `ready`: what a person sees while the server stops. */
function linesAfterReady(output: string): string[] {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const ready = lines.findIndex((line) => line.includes('"msg":"ready"'));
  return lines.slice(ready + 1).map((line) => {
    try {
      return String((JSON.parse(line) as { msg: unknown }).msg);
    } catch {
      return line; // not the server's: npm's or pnpm's own words
    }
  });
}

describe('npm start, stopped', () => {
  it.each([
    [
      'by Ctrl-C (SIGINT to the whole foreground group)',
      (pid: number) => process.kill(-pid, 'SIGINT'),
    ],
    ['by SIGTERM to npm alone (as `kill` sends it)', (pid: number) => process.kill(pid, 'SIGTERM')],
  ])(
    '%s exits 0 and prints only the server shutting down',
    async (_how, stop) => {
      const start = npmStart();
      await start.ready;
      stop(start.pid);
      expect(await start.exited).toEqual({ code: 0, signal: null });
      expect(linesAfterReady(start.output())).toEqual([
        'shutting down: no new connections; finishing requests in flight',
        'stopped',
      ]);
      expect(start.output()).not.toMatch(/ELIFECYCLE|ERR_PNPM|npm error|second signal/);
    },
    120_000,
  );
});
