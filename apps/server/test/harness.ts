import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';

export const serverRoot = fileURLToPath(new URL('..', import.meta.url));

export interface LogRecord {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** The environment a child process starts from: only what Node and the shell need, nothing of ours. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SystemRoot']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export interface ServerProcess {
  child: ChildProcess;
  url: URL;
  logs: LogRecord[];
  stderr(): string;
  /** Resolves with the first log record matching, waiting up to `timeoutMs`. */
  waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  waitForReady(timeoutMs?: number): Promise<void>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export function spawnNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  cwd = serverRoot,
): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd,
    env: { ...baseEnv(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Starts the real server (src/main.ts) as a child process on an ephemeral port. */
export async function startServer(
  env: Record<string, string>,
  options: { waitForListening?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawnNode('src/main.ts', [], {
    PORT: '0',
    HOST: '127.0.0.1',
    QUARRY_LOG_FORMAT: 'json',
    QUARRY_DEMO: 'false',
    ...env,
  });
  const logs: LogRecord[] = [];
  const waiters: Array<{
    predicate: (record: LogRecord) => boolean;
    resolve: (record: LogRecord) => void;
  }> = [];
  let stderr = '';
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (!line.trim()) continue;
      const record = JSON.parse(line) as LogRecord;
      logs.push(record);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(record)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(record);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );

  const waitForLog = (predicate: (record: LogRecord) => boolean, timeoutMs = 90_000) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<LogRecord>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching log record within ${timeoutMs} ms; logs:\n${logs.map((r) => JSON.stringify(r)).join('\n')}\nstderr:\n${stderr}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({ predicate, resolve: (record) => (clearTimeout(timer), resolve(record)) });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `server exited (${code}) before the expected log record; stderr:\n${stderr}\nlogs:\n${logs.map((r) => JSON.stringify(r)).join('\n')}`,
          ),
        );
      });
    });
  };

  let url = new URL('http://127.0.0.1:0');
  if (options.waitForListening ?? true) {
    const listening = await waitForLog((record) => record.msg === 'listening');
    url = new URL(String(listening.url));
  }
  return {
    child,
    get url() {
      return url;
    },
    logs,
    stderr: () => stderr,
    waitForLog,
    async waitForReady(timeoutMs) {
      await waitForLog((record) => record.msg === 'ready', timeoutMs);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
}

/** A scratch directory removed by the returned function. */
export function scratchDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The real PostgreSQL for tests, as @quarry/db/testing sees it; undefined skips those tests. */
export const postgresUrl = process.env.QUARRY_TEST_DATABASE_URL || undefined;

/**
 * A suite that needs something this machine may lack (`missing` says what, or is undefined when
 * nothing is): skipped with that in its name, so the run lists it; with QUARRY_TEST_REQUIRE_ALL=1
 * (CI) a skip is an error instead.
 */
export function describeUnless(missing: string | undefined, title: string, body: () => void) {
  if (missing === undefined) return describe(title, body);
  if (process.env.QUARRY_TEST_REQUIRE_ALL === '1') {
    throw new Error(`${title}: ${missing}, and QUARRY_TEST_REQUIRE_ALL=1 forbids skipping it`);
  }
  return describe.skip(`${title} (skipped: ${missing})`, body);
}

/** A suite on the real PostgreSQL (QUARRY_TEST_DATABASE_URL). */
export function describeOnPostgres(title: string, body: () => void) {
  describeUnless(postgresUrl ? undefined : 'set QUARRY_TEST_DATABASE_URL', title, body);
}

/** A fresh, empty database on the test server, dropped by `drop`. */
export async function scratchPostgres(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `quarry_server_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** Runs the quarry CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string) {
  return runScript('src/cli/main.ts', args, env, input);
}

/** Runs a TypeScript file of this package to completion (from `cwd`, this package by default). */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  input?: string,
  cwd = serverRoot,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnNode(script, args, env, cwd);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

export const keys = {
  admin: 'admin-key-0123456789abcdef',
  writer: 'writer-key-0123456789abcdef',
  reader: 'reader-key-0123456789abcdef',
};

export const apiKeysEnv = JSON.stringify([
  { key: keys.admin, name: 'admin', scopes: ['read', 'write', 'admin'] },
  { key: keys.writer, name: 'writer', scopes: ['read', 'write'] },
  { key: keys.reader, name: 'reader', scopes: ['read'] },
]);
