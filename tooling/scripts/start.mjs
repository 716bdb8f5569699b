#!/usr/bin/env node
// `npm start`: install, build the dashboard, then run the server in the foreground.
//
//   npm start                    # the whole sequence
//   npm start -- --serve-only    # only the server (install and dashboard build already done)
//
// Why a Node script and not `pnpm install && turbo build && pnpm --filter @quarry/server start`:
// Ctrl-C sends SIGINT to every process in the terminal's foreground group. A shell between npm
// and the server dies of it (dash does not wait for its child), and pnpm reports any run during
// which it received SIGINT as failed (exit 130, `ELIFECYCLE`, `ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL`),
// so a clean shutdown read like a crash. Here the chain is npm -> this script (the package.json
// script `exec`s it, so no shell is left) -> the server: signals are passed on, and the server's
// exit code comes back out unchanged, 0 after a graceful stop.
//
// Plain Node with built-in modules only: it runs before `pnpm install`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const serverDir = fileURLToPath(new URL('../../apps/server/', import.meta.url));
const usage = 'usage: npm start [-- --serve-only]';

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--serve-only');
if (unknown.length > 0) {
  process.stderr.write(`start: unknown argument ${unknown.join(' ')}\n${usage}\n`);
  process.exit(64); // EX_USAGE
}
const serveOnly = args.includes('--serve-only');

/** The pnpm the repository pins (`packageManager`), fetched by npx like the rest of the scripts. */
const { packageManager } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url)));
const pnpm = ['-y', packageManager];

const forwarded = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);
/** @type {import('node:child_process').ChildProcess | undefined} */
let current;
/** @type {NodeJS.Signals | undefined} */
let stopSignal;
for (const signal of forwarded) {
  process.on(signal, () => {
    stopSignal ??= signal;
    // The child usually has this signal already (same process group as the terminal); passing it
    // on covers a signal sent to npm or to this process alone. The server treats the echo of a
    // signal it is already handling as the same request.
    current?.kill(signal);
  });
}

/**
 * Runs one step in the foreground and resolves with the exit code it ended with; a child killed
 * by a signal yields 128 + the signal's number, as a shell reports it.
 */
function run(command, commandArgs, cwd) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd, stdio: 'inherit' });
    current = child;
    child.once('error', (error) => {
      process.stderr.write(`start: could not run ${command}: ${error.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      current = undefined;
      resolve(code ?? 128 + (constants.signals[signal] ?? 0));
    });
  });
}

const steps = [
  ...(serveOnly
    ? []
    : [
        ['npx', [...pnpm, 'install', '--frozen-lockfile'], root],
        ['npx', [...pnpm, 'exec', 'turbo', 'run', 'build', '--filter=@quarry/admin'], root],
      ]),
  // The server itself, run by this Node (no tsx CLI, which would be one more process to relay).
  [process.execPath, ['--import', 'tsx', 'src/main.ts'], serverDir],
];

for (const [command, commandArgs, cwd] of steps) {
  if (stopSignal !== undefined) {
    // Stopped between steps: nothing was started that needs stopping.
    process.exit(128 + constants.signals[stopSignal]);
  }
  const code = await run(command, commandArgs, cwd);
  if (code !== 0) process.exit(code);
}
process.exit(0);
